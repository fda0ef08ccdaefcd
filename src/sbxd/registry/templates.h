/* Templates sandboxes are created from: the built-in `base` plus those of an
 * optional --templates JSON file, replaceable at run time (SIGHUP). */
#ifndef SBXD_TEMPLATES_H
#define SBXD_TEMPLATES_H

#include <jansson.h>
#include <stdint.h>

/* The envd version reported for sandboxes and templates.  The SDKs gate
 * features on it: 0.5.7 is the lowest with every path envd/ serves (no
 * implicit user header, stdin honoured, closeStdin, octet-stream and gzip
 * uploads) and below the ones it does not (write metadata 0.6.2, watch
 * includeEntry 0.6.3), which the SDKs then refuse loudly. */
#define SBXD_ENVD_VERSION "0.5.7"

struct tpl_store;

/* What a sandbox copies from its template at creation. */
struct tpl_info {
	char id[129];
	char alias[129];        /* "" when the template has none */
	int cpu_count;
	int memory_mb;
	int disk_mb;
	char envd_version[32];
	char rootfs[4096];      /* "" for the base root (the host's /usr) */
};

/* Returns a store holding only `base`, or NULL on allocation failure. */
struct tpl_store *tpl_store_new(void);
void tpl_store_free(struct tpl_store *st);

/* Replaces the file templates with those in `path`.  On failure keeps the
 * old set, returns -errno and sets *err (caller frees) if err != NULL. */
int tpl_store_load(struct tpl_store *st, const char *path, char **err);

/* Parses a JSON array of template objects; exposed for the unit tests.
 * Returns 0 or -EINVAL with *err set (caller frees). */
int tpl_validate_json(const json_t *arr, char **err);

/* Looks `name` up as a template ID or alias.  Returns 0 or -ENOENT. */
int tpl_resolve(struct tpl_store *st, const char *name, struct tpl_info *out);

/* Records that a sandbox was created from template `id`. */
void tpl_note_spawn(struct tpl_store *st, const char *id, int64_t now_ms);

/* A new reference to the Template array of GET /templates. */
json_t *tpl_list_json(struct tpl_store *st);

#endif
