/* The sandbox model: what the API's JSON says about one sandbox, parsed
 * defensively (the server's JSON is untrusted). */
#ifndef SBXFS_MODEL_H
#define SBXFS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <jansson.h>

#include "values.h"

/* Metadata key under which sbxfs keeps the directory name a sandbox was
 * created with, so other clients and later mounts see the same name. */
#define SBX_NAME_KEY "sbxfs.name"

/* In a struct sbx the strings live in the sandbox's own allocation; as an
 * input to sbx_new() they are borrowed and copied. */
struct sbx_meta {
	const char *key;
	const char *value;
};

/* What a sandbox's own agent (envd) needs to be reached: its access token
 * and the domain its hosts live under.  Credentials: never rendered (info
 * and info.json leave them out), never logged; whoever sends the token
 * adds it to the scrubber's set (common/scrub.h) for as long as it uses
 * it.  Strings live in the sandbox's allocation, "" when the API gave
 * none. */
struct sbx_creds {
	const char *envd_access_token;
	const char *domain;
};

/* Immutable once built and shared between cache snapshots: reference
 * counted, so take a reference with sbx_ref() and drop it with sbx_unref().
 * One allocation holds the struct, the metadata array and every string, so
 * never free() a member.  sbx_ref(NULL) and sbx_unref(NULL) are no-ops. */
struct sbx {
	char *id;
	char *template_id;
	char *alias;          /* "" when the API gave none */
	char *client_id;      /* "" when the API gave none */
	char *envd_version;   /* "" when the API gave none */
	enum sbx_state state;
	time_t started_at;    /* 0 when unknown */
	time_t end_at;        /* 0 when unknown */
	long cpu_count, memory_mb, disk_size_mb;  /* 0 when unknown */
	/* Built from a create reply, which carries no resources (cpuCount,
	 * memoryMB, diskSizeMB): the first read of info completes it with
	 * one GET instead of every mkdir paying for one. */
	bool partial;
	size_t n_meta;
	struct sbx_meta *meta;  /* sorted by key */
	struct sbx_creds creds; /* never rendered */
	/* Where info.json comes from; read it only through sbx_info_json().
	 * A listed sandbox keeps its list element's raw bytes (access tokens
	 * included) and renders them on first use into info_memo: few
	 * readers ever want info.json of every sandbox in a listing.  A
	 * sandbox changed by an own write (sbx_with) keeps the raw bytes it
	 * came from plus overrides: its state and end_at replace the JSON's
	 * when rendered, so a write costs no parse and no dump.  Any other
	 * sandbox holds the finished text (json_raw false). */
	const char *json_src;
	size_t json_src_len;
	bool json_raw;
	bool json_overrides;    /* state and end_at override json_src's */
	struct sbx_text *info_memo;  /* atomic; set once, freed with the sbx */
	int refs;               /* atomic */
};

/* Parses one sandbox object (a list item, GET /sandboxes/{id}, or a create
 * reply).  Returns 0 and a new sbx (refs = 1, caller owns) or -EIO with a
 * reason in why (may be NULL). */
int sbx_from_json(const json_t *obj, struct sbx **out, char *why, size_t whylen);

/* Parses a list body (a JSON array of sandbox objects).  On success the
 * caller owns *items (free with sbx_array_free).  -EIO on any shape error. */
int sbx_list_from_json(const char *body, size_t len, struct sbx ***items, size_t *n,
		       char *why, size_t whylen);
void sbx_array_free(struct sbx **items, size_t n);

/* Parses a body holding one sandbox object (GET /sandboxes/{id}).  Same
 * contract as sbx_from_json. */
int sbx_parse(const char *body, size_t len, struct sbx **out, char *why, size_t whylen);

/* Parses a create reply, which carries no times, state or (always)
 * metadata: what the reply lacks is filled in from what the client knows
 * (state running, started_at, end_at, meta as sent).  end_at 0: unknown.
 * Same contract as sbx_from_json. */
int sbx_parse_created(const char *body, size_t len, time_t started_at, time_t end_at,
		      const struct sbx_meta *meta, size_t n_meta,
		      struct sbx **out, char *why, size_t whylen);

/* Builds a sandbox from known values (after a create or a local change),
 * copying every string.  meta may be NULL.  Caller owns the result. */
struct sbx *sbx_new(const char *id, const char *template_id, const char *alias,
		    enum sbx_state state, time_t started_at, time_t end_at,
		    const struct sbx_meta *meta, size_t n_meta);

/* A copy with a new state and end time (for own writes); caller owns it.
 * NULL on allocation failure. */
struct sbx *sbx_with(const struct sbx *s, enum sbx_state state, time_t end_at);

struct sbx *sbx_ref(struct sbx *s);
void sbx_unref(struct sbx *s);

/* The content of info.json: the sandbox's JSON as the API gave it, minus
 * access tokens, pretty-printed, with a trailing newline, and no NUL in it.
 * Borrowed from s (valid while the caller holds its reference) with its
 * length in *len (may be NULL); NULL only when rendering it ran out of
 * memory.  Rendered at most once per struct sbx, whichever thread asks
 * first, so it is as cheap as a field after that. */
const char *sbx_info_json(const struct sbx *s, size_t *len);

/* Borrowed value or NULL. */
const char *sbx_meta_get(const struct sbx *s, const char *key);

/* Renders `info`: key=value lines named as the Python SDK names them, in
 * this order: sandbox_id, template_id, alias, client_id, state, started_at,
 * end_at (RFC 3339 UTC), cpu_count, memory_mb, disk_size_mb, envd_version,
 * then metadata.KEY per entry sorted by key.  An unknown value (time or
 * number 0, string "") is empty.  In values "\n" and "\\" stand for a
 * newline and a backslash, other control bytes are \xHH (and so is '=' in
 * a key).  Every line ends with "\n".  Returns malloc'd text (caller
 * frees), its length in *len (may be NULL); NULL on allocation failure. */
char *sbx_render_info(const struct sbx *s, size_t *len);

#endif
