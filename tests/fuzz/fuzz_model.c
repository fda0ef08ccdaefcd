/* libFuzzer target: the sandbox JSON model (sbx_list_from_json, sbx_parse,
 * sbx_parse_created, sbx_from_json) and rendering what it accepted.  The
 * server's JSON is untrusted: any input must give 0 or -EIO, never a crash,
 * a leak or an out-of-bounds access.  A listed sandbox's info.json, made
 * lazily from its raw bytes, must equal what sbx_from_json renders at once
 * from the parsed element. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>

#include "fuzz.h"
#include "model/jscan.h"
#include "model/model.h"

/* No key at any depth of info.json names a token or secret, except in
 * the user's own metadata, which is shown as is (like in info). */
static void check_no_tokens(const json_t *v, bool top)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e) {
			if (top && strcmp(k, "metadata") == 0)
				continue;
			FUZZ_CHECK(!strcasestr(k, "token") && !strcasestr(k, "secret"));
			check_no_tokens(e, false);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			check_no_tokens(e, false);
	}
}

static void check_sbx(const struct sbx *s)
{
	size_t len = 0, jlen = 0;
	const char *json;
	char *info;

	FUZZ_CHECK(s->id && s->id[0] && s->template_id);
	FUZZ_CHECK(s->alias && s->client_id && s->envd_version);
	json = sbx_info_json(s, &jlen);
	FUZZ_CHECK(json && jlen == strlen(json) && jlen > 0 && json[jlen - 1] == '\n');
	FUZZ_CHECK(sbx_info_json(s, NULL) == json);
	/* info.json never carries an access token, and is JSON. */
	json_t *doc = json_loadb(json, jlen, JSON_DECODE_ANY, NULL);

	FUZZ_CHECK(doc != NULL);
	check_no_tokens(doc, true);
	json_decref(doc);
	for (size_t i = 0; i < s->n_meta; i++) {
		FUZZ_CHECK(s->meta[i].key && s->meta[i].value);
		if (i)
			FUZZ_CHECK(strcmp(s->meta[i - 1].key, s->meta[i].key) <= 0);
		FUZZ_CHECK(sbx_meta_get(s, s->meta[i].key) != NULL);
	}
	info = sbx_render_info(s, &len);
	FUZZ_CHECK(info && len == strlen(info) && len > 0 && info[len - 1] == '\n');
	free(info);
	/* A copy with a new state keeps everything else. */
	struct sbx *w = sbx_with(s, SBX_STATE_PAUSED, s->end_at + 1);

	FUZZ_CHECK(w && strcmp(w->id, s->id) == 0 && w->n_meta == s->n_meta);
	sbx_unref(w);
}

/* lazy (the list's raw element) and eager (the parsed one) agree */
static void check_same_as_eager(const struct sbx *lazy, const json_t *elem)
{
	struct sbx *eager = NULL;
	size_t a, b;
	const char *x, *y;

	FUZZ_CHECK(sbx_from_json(elem, &eager, NULL, 0) == 0);
	x = sbx_info_json(lazy, &a);
	y = sbx_info_json(eager, &b);
	FUZZ_CHECK(x && y && a == b && memcmp(x, y, a) == 0);
	sbx_unref(eager);
}

/* The element scanner on any bytes stays in bounds, and on an array that
 * jansson accepts finds exactly its elements. */
static void check_scan(const char *body, size_t size)
{
	json_t *root = json_loadb(body, size, 0, NULL);
	struct jscan c;
	const char *e;
	size_t len, i = 0;
	int r;

	jscan_init(&c, body, size);
	while ((r = jscan_next(&c, &e, &len)) == 1) {
		if (json_is_array(root)) {
			json_t *v = json_loadb(e, len, JSON_DECODE_ANY, NULL);

			FUZZ_CHECK(v && json_equal(v, json_array_get(root, i)));
			json_decref(v);
		}
		i++;
	}
	FUZZ_CHECK(r == 0 || r == -EIO);
	if (json_is_array(root))
		FUZZ_CHECK(r == 0 && i == json_array_size(root));
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char why[128];
	struct sbx **items = NULL, *one = NULL;
	size_t n = 0;
	int r;

	check_scan(body, size);
	r = sbx_list_from_json(body, size, &items, &n, why, sizeof(why));
	FUZZ_CHECK(r == 0 || r == -EIO);
	if (r == 0) {
		json_t *root = json_loadb(body, size, 0, NULL);

		FUZZ_CHECK(json_is_array(root) && json_array_size(root) == n);
		for (size_t i = 0; i < n; i++) {
			FUZZ_CHECK(items[i]->json_raw);
			check_sbx(items[i]);
			check_same_as_eager(items[i], json_array_get(root, i));
		}
		json_decref(root);
	}
	sbx_array_free(items, r == 0 ? n : 0);

	r = sbx_parse(body, size, &one, why, sizeof(why));
	FUZZ_CHECK(r == 0 || r == -EIO);
	if (r == 0) {
		check_sbx(one);
		FUZZ_CHECK(sbx_ref(one) == one);
		sbx_unref(one);
		sbx_unref(one);
	}

	static const struct sbx_meta meta[] = { { "sbxfs.name", "web" }, { "owner", "ci" } };

	one = NULL;
	r = sbx_parse_created(body, size, 1700000000, 1700000300, meta, 2, &one, why,
			      sizeof(why));
	FUZZ_CHECK(r == 0 || r == -EIO);
	if (r == 0) {
		check_sbx(one);
		sbx_unref(one);
	}
	return 0;
}
