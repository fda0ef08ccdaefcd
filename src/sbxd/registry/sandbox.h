/* The sandbox record, shared by the registry (which owns and locks it), the
 * JSON views of it (model.c) and persistence.  Everything else sees
 * sandboxes only as JSON produced under the registry lock. */
#ifndef SBXD_SANDBOX_H
#define SBXD_SANDBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define SBX_ID_LEN 20

struct sandbox {
	char id[SBX_ID_LEN + 1];     /* 20 random [a-z0-9] */
	char client_id[9];           /* 8 hex digits */
	char envd_token[33];         /* 32 hex digits */
	char *template_id;
	char *alias;                 /* NULL when none */
	char *envd_version;
	int cpu_count, memory_mb, disk_mb;
	int64_t started_ms;
	int64_t end_ms;
	bool paused;
	bool auto_pause;
	int allow_internet;          /* -1 unset, 0 false, 1 true */
	json_t *metadata;            /* object string -> string, owned */
	json_t *env_vars;            /* object string -> string, owned */
	uint64_t seq;                /* creation order; never reused */
	uint64_t timer_gen;          /* bumped whenever end_ms changes */
	bool busy;                   /* a change of it is being committed */
	struct sandbox *hash_next;   /* registry.c's id-index chain */
};

/* What a create request asks for, after validation and template lookup.
 * All pointers are borrowed for the duration of the call. */
struct sandbox_spec {
	const char *id;              /* NULL: a new random ID; else this one */
	const char *template_id;
	const char *alias;           /* NULL or "" for none */
	const char *envd_version;
	int cpu_count, memory_mb, disk_mb;
	unsigned timeout_s;
	bool auto_pause;
	int allow_internet;
	const json_t *metadata;      /* NULL: empty */
	const json_t *env_vars;      /* NULL: empty */
};

/* What a sandbox uses now, for its metrics (bytes; CPU in percent of
 * its cpuCount). */
struct sbx_usage {
	double cpu_used_pct;
	int64_t mem_used, mem_cache, disk_used;
};

/* The shapes a sandbox is rendered in. */
enum sbx_view {
	SBX_VIEW_SANDBOX,   /* Sandbox: create / connect / resume replies */
	SBX_VIEW_DETAIL,    /* SandboxDetail: GET /sandboxes/{id} */
	SBX_VIEW_LISTED,    /* ListedSandbox: list items */
	SBX_VIEW_STORED,    /* everything, for the state file */
};

/* A new JSON object for `sb` in the given view (caller owns it). */
json_t *model_sandbox_json(const struct sandbox *sb, enum sbx_view view);

/* Rebuilds a sandbox from its SBX_VIEW_STORED form.  Returns a new record
 * (caller frees with model_sandbox_free) or NULL if the object is malformed. */
struct sandbox *model_sandbox_from_stored(const json_t *o);

/* Allocates a record from a spec (id and tokens left for the caller). */
struct sandbox *model_sandbox_from_spec(const struct sandbox_spec *spec);

void model_sandbox_free(struct sandbox *sb);

#endif
