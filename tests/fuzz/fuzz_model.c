/* libFuzzer target: the sandbox JSON model (sbx_list_from_json, sbx_parse,
 * sbx_parse_created, sbx_from_json) and rendering what it accepted.  The
 * server's JSON is untrusted: any input must give 0 or -EIO, never a crash,
 * a leak or an out-of-bounds access. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>

#include "fuzz.h"
#include "model.h"

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
	size_t len = 0;
	char *info;

	FUZZ_CHECK(s->id && s->id[0] && s->template_id);
	FUZZ_CHECK(s->alias && s->client_id && s->envd_version);
	FUZZ_CHECK(s->json && s->json_len == strlen(s->json));
	/* info.json never carries an access token, and is JSON. */
	json_t *doc = json_loadb(s->json, s->json_len, JSON_DECODE_ANY, NULL);

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char why[128];
	struct sbx **items = NULL, *one = NULL;
	size_t n = 0;
	int r;

	r = sbx_list_from_json(body, size, &items, &n, why, sizeof(why));
	FUZZ_CHECK(r == 0 || r == -EIO);
	if (r == 0)
		for (size_t i = 0; i < n; i++)
			check_sbx(items[i]);
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
