/* Shared between model.c (parsing), build.c (known values) and
 * info_json.c (what info.json shows); private to the model. */
#ifndef SBXFS_MODEL_PRIV_H
#define SBXFS_MODEL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <jansson.h>

#include "model.h"

/* The values a struct sbx is built from; every pointer is borrowed. */
struct sbx_fields {
	const char *id, *template_id, *alias, *client_id, *envd_version;
	enum sbx_state state;
	time_t started_at, end_at;
	long cpu_count, memory_mb, disk_size_mb;
	bool partial;
	const struct sbx_meta *meta;    /* sorted by key */
	size_t n_meta;
	const char *envd_access_token, *domain;  /* NULL: "" */
	/* Raw: a sandbox object's JSON text as the API sent it.  Otherwise
	 * info.json without its trailing newline. */
	const char *json;
	size_t json_len;
	bool json_raw;
	bool json_overrides;    /* see struct sbx */
};

/* One allocation holding f's values (see model.c); NULL on failure. */
struct sbx *model_build(const struct sbx_fields *f);
/* qsort order of struct sbx_meta: by key. */
int model_meta_cmp(const void *a, const void *b);

/* info.json rendered from raw JSON: one allocation, published once. */
struct sbx_text {
	size_t len;
	char text[];
};

/* obj as info.json: a copy without token-ish keys (user metadata is kept
 * as is), pretty-printed.  malloc'd; NULL on allocation failure. */
char *model_public_json(const json_t *obj);

#endif
