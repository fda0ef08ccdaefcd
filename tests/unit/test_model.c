#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

#define GOOD_ITEM \
	"{\"alias\":\"base\",\"clientID\":\"6532622b\",\"cpuCount\":2," \
	"\"diskSizeMB\":512,\"endAt\":\"2026-11-28T14:24:27Z\",\"envdVersion\":\"0.2.0\"," \
	"\"memoryMB\":1024,\"metadata\":{\"zeta\":\"last\",\"sbxfs.name\":\"web\",\"a\":\"1\"}," \
	"\"sandboxID\":\"i1a2b3c4\",\"startedAt\":\"2026-11-28T14:14:27.5Z\"," \
	"\"state\":\"running\",\"templateID\":\"rki5dems9\"}"

static int parse(const char *text, struct sbx **out, char *why)
{
	json_error_t jerr;
	json_t *o = json_loads(text, JSON_DECODE_ANY, &jerr);
	int r;

	cr_assert_not_null(o, "test JSON invalid: %s (%s)", jerr.text, text);
	why[0] = '\0';
	r = sbx_from_json(o, out, why, 200);
	json_decref(o);
	return r;
}

/* info.json of s, borrowed */
static const char *ij(const struct sbx *s)
{
	return sbx_info_json(s, NULL);
}

static void expect_eio(const char *text, const char *why_part)
{
	struct sbx *s = (struct sbx *)0x1;
	char why[200];

	cr_expect_eq(parse(text, &s, why), -EIO, "accepted: %s", text);
	cr_expect_null(s);
	if (why_part)
		cr_expect(strstr(why, why_part), "why \"%s\" lacks \"%s\"", why, why_part);
}

Test(model, good_item)
{
	struct sbx *s;
	char why[200];

	cr_assert_eq(parse(GOOD_ITEM, &s, why), 0, "%s", why);
	cr_expect_str_eq(s->id, "i1a2b3c4");
	cr_expect_str_eq(s->template_id, "rki5dems9");
	cr_expect_str_eq(s->alias, "base");
	cr_expect_str_eq(s->client_id, "6532622b");
	cr_expect_str_eq(s->envd_version, "0.2.0");
	cr_expect_eq(s->state, SBX_STATE_RUNNING);
	cr_expect_eq(s->started_at, 1795875267);
	cr_expect_eq(s->end_at, 1795875867);
	cr_expect_eq(s->cpu_count, 2);
	cr_expect_eq(s->memory_mb, 1024);
	cr_expect_eq(s->disk_size_mb, 512);
	cr_assert_eq(s->n_meta, 3);
	cr_expect_str_eq(s->meta[0].key, "a");
	cr_expect_str_eq(s->meta[1].key, "sbxfs.name");
	cr_expect_str_eq(s->meta[2].key, "zeta");
	cr_expect_str_eq(sbx_meta_get(s, SBX_NAME_KEY), "web");
	cr_expect_str_eq(sbx_meta_get(s, "zeta"), "last");
	cr_expect_null(sbx_meta_get(s, "nope"));
	cr_expect_eq(s->refs, 1);
	size_t jlen;
	const char *json = sbx_info_json(s, &jlen);

	cr_assert_not_null(json);
	cr_expect_eq(jlen, strlen(json));
	cr_expect_eq(json[jlen - 1], '\n');
	cr_expect(strstr(json, "\"sandboxID\": \"i1a2b3c4\""), "%s", json);
	sbx_unref(s);
}

Test(model, minimal_create_reply)
{
	struct sbx *s;
	char why[200];

	cr_assert_eq(parse("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"clientID\":\"c\","
			   "\"envdVersion\":\"0.1.1\",\"domain\":null,\"trafficAccessToken\":null}",
			   &s, why), 0, "%s", why);
	cr_expect_str_eq(s->alias, "");
	cr_expect_eq(s->state, SBX_STATE_UNKNOWN);
	cr_expect_eq(s->started_at, 0);
	cr_expect_eq(s->n_meta, 0);
	cr_expect_null(s->meta);
	cr_expect_null(strstr(ij(s), "trafficAccessToken"));
	sbx_unref(s);
}

Test(model, missing_and_wrong_types)
{
	expect_eio("{\"templateID\":\"t\"}", "sandboxID");
	expect_eio("{\"sandboxID\":\"x\"}", "templateID");
	expect_eio("{\"sandboxID\":null,\"templateID\":\"t\"}", "sandboxID");
	expect_eio("{\"sandboxID\":5,\"templateID\":\"t\"}", "sandboxID");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":[]}", "templateID");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"alias\":1}", "alias");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"clientID\":{}}", "clientID");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"state\":true}", "state");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"cpuCount\":\"2\"}", "cpuCount");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"cpuCount\":2.5}", "cpuCount");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"memoryMB\":-1}", "memoryMB");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"diskSizeMB\":1e40}", NULL);
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"diskSizeMB\":99999999999999}", "diskSizeMB");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"startedAt\":12}", "startedAt");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"endAt\":\"tomorrow\"}", "endAt");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"metadata\":[]}", "metadata");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"metadata\":{\"k\":1}}", "metadata");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"metadata\":{\"k\":null}}", "metadata");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"metadata\":{\"k\":{}}}", "metadata");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"metadata\":{\"\":\"v\"}}", "metadata");
	expect_eio("[]", "object");
	expect_eio("\"str\"", "object");
}

Test(model, unknown_state_is_not_an_error)
{
	struct sbx *s;
	char why[200];

	cr_assert_eq(parse("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"state\":\"killing\"}",
			   &s, why), 0, "%s", why);
	cr_expect_eq(s->state, SBX_STATE_UNKNOWN);
	sbx_unref(s);
}

Test(model, insane_ids)
{
	char big[300];

	expect_eio("{\"sandboxID\":\"\",\"templateID\":\"t\"}", "sandboxID");
	expect_eio("{\"sandboxID\":\"a/b\",\"templateID\":\"t\"}", "sandboxID");
	expect_eio("{\"sandboxID\":\"..\\/x\",\"templateID\":\"t\"}", "sandboxID");
	expect_eio("{\"sandboxID\":\"a\\nb\",\"templateID\":\"t\"}", "sandboxID");
	expect_eio("{\"sandboxID\":\"a\\u007fb\",\"templateID\":\"t\"}", "sandboxID");
	expect_eio("{\"sandboxID\":\"x\",\"templateID\":\"t/u\"}", "templateID");
	snprintf(big, sizeof(big), "{\"sandboxID\":\"%0129d\",\"templateID\":\"t\"}", 0);
	expect_eio(big, "sandboxID");
	snprintf(big, sizeof(big), "{\"sandboxID\":\"%0128d\",\"templateID\":\"t\"}", 0);
	struct sbx *s;
	char why[200];
	cr_expect_eq(parse(big, &s, why), 0, "128-char id rejected: %s", why);
	sbx_unref(s);
}

Test(model, nul_in_strings)
{
	json_t *o = json_pack("{s:s%,s:s}", "sandboxID", "a\0b", (size_t)3, "templateID", "t");
	struct sbx *s;
	char why[200];

	cr_assert_not_null(o);
	cr_expect_eq(sbx_from_json(o, &s, why, sizeof(why)), -EIO);
	json_decref(o);

	o = json_pack("{s:s,s:s,s:{s:s%}}", "sandboxID", "x", "templateID", "t",
		      "metadata", "k", "v\0w", (size_t)3);
	cr_assert_not_null(o);
	cr_expect_eq(sbx_from_json(o, &s, why, sizeof(why)), -EIO);
	json_decref(o);

	/* The list parser never accepts \u0000 at all. */
	const char *body = "[{\"sandboxID\":\"a\\u0000b\",\"templateID\":\"t\"}]";
	struct sbx **items;
	size_t n;
	cr_expect_eq(sbx_list_from_json(body, strlen(body), &items, &n, why, sizeof(why)), -EIO);
}

Test(model, huge_strings)
{
	size_t big = 2 * 1024 * 1024;
	char *s = malloc(big + 200);
	struct sbx *out;
	char why[200];

	cr_assert_not_null(s);
	int n = sprintf(s, "{\"sandboxID\":\"x\",\"templateID\":\"t\",\"alias\":\"");
	memset(s + n, 'A', big);
	strcpy(s + n + big, "\"}");
	cr_expect_eq(parse(s, &out, why), -EIO);
	cr_expect(strstr(why, "alias"), "%s", why);
	n = sprintf(s, "{\"sandboxID\":\"x\",\"templateID\":\"t\",\"metadata\":{\"k\":\"");
	memset(s + n, 'B', big);
	strcpy(s + n + big, "\"}}");
	cr_expect_eq(parse(s, &out, why), -EIO);
	free(s);
}

Test(model, deep_nesting)
{
	size_t depth = 100000;
	char *s = malloc(2 * depth + 200);
	struct sbx **items;
	size_t n;
	char why[200];

	cr_assert_not_null(s);
	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	cr_expect_eq(sbx_list_from_json(s, 2 * depth, &items, &n, why, sizeof(why)), -EIO);
	int k = sprintf(s, "[{\"sandboxID\":\"x\",\"templateID\":\"t\",\"extra\":");
	memset(s + k, '[', depth);
	memset(s + k + depth, ']', depth);
	strcpy(s + k + 2 * depth, "}]");
	cr_expect_eq(sbx_list_from_json(s, strlen(s), &items, &n, why, sizeof(why)), -EIO);
	free(s);

	/* Moderate nesting the parser accepts is kept in info.json. */
	const char *ok = "[{\"sandboxID\":\"x\",\"templateID\":\"t\",\"extra\":[[[{\"a\":[1]}]]]}]";
	cr_assert_eq(sbx_list_from_json(ok, strlen(ok), &items, &n, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(n, 1);
	sbx_array_free(items, n);
}

Test(model, list_shapes)
{
	struct sbx **items = (struct sbx **)0x1;
	size_t n = 99;
	char why[200];
	const char *bad[] = { "", "{}", "null", "[1]", "[{\"sandboxID\":\"x\",\"templateID\":\"t\"},\"s\"]",
		"[{\"sandboxID\":\"x\",\"templateID\":\"t\"}", "[{}]", "nonjson", "[] x" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(sbx_list_from_json(bad[i], strlen(bad[i]), &items, &n, why, sizeof(why)),
			     -EIO, "accepted %s", bad[i]);
		cr_expect_null(items);
		cr_expect_eq(n, 0);
	}
	cr_expect_eq(sbx_list_from_json("[]", 2, &items, &n, why, sizeof(why)), 0);
	cr_expect_eq(n, 0);
	sbx_array_free(items, n);

	const char *two = "[" GOOD_ITEM ",{\"sandboxID\":\"y\",\"templateID\":\"t\"}]";
	cr_assert_eq(sbx_list_from_json(two, strlen(two), &items, &n, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(n, 2);
	cr_expect_str_eq(items[0]->id, "i1a2b3c4");
	cr_expect_str_eq(items[1]->id, "y");
	sbx_array_free(items, n);
	sbx_array_free(NULL, 0);
}

Test(model, tokens_stripped)
{
	struct sbx *s;
	char why[200];

	cr_assert_eq(parse("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"envdAccessToken\":\"SECRET1\","
			   "\"trafficAccessToken\":\"SECRET2\",\"nested\":{\"refreshToken\":\"SECRET3\","
			   "\"ok\":1,\"list\":[{\"client_secret\":\"SECRET4\"}]},\"apiKey\":\"SECRET5\","
			   "\"metadata\":{\"note\":\"keep\"},\"domain\":\"e2b.app\"}", &s, why), 0, "%s", why);
	cr_expect_null(strstr(ij(s), "SECRET"), "%s", ij(s));
	cr_expect_null(strstr(ij(s), "Token"), "%s", ij(s));
	cr_expect(strstr(ij(s), "\"domain\": \"e2b.app\""), "%s", ij(s));
	cr_expect(strstr(ij(s), "\"ok\": 1"), "%s", ij(s));
	cr_expect(strstr(ij(s), "\"note\": \"keep\""), "%s", ij(s));
	char *info = sbx_render_info(s, NULL);
	cr_expect_null(strstr(info, "SECRET"));
	free(info);
	sbx_unref(s);
}

Test(model, render_info_exact)
{
	struct sbx *s;
	char why[200];
	size_t len;

	cr_assert_eq(parse(GOOD_ITEM, &s, why), 0, "%s", why);
	char *info = sbx_render_info(s, &len);
	cr_assert_not_null(info);
	cr_expect_str_eq(info,
		"sandbox_id=i1a2b3c4\n"
		"template_id=rki5dems9\n"
		"alias=base\n"
		"client_id=6532622b\n"
		"state=running\n"
		"started_at=2026-11-28T14:14:27Z\n"
		"end_at=2026-11-28T14:24:27Z\n"
		"cpu_count=2\n"
		"memory_mb=1024\n"
		"disk_size_mb=512\n"
		"envd_version=0.2.0\n"
		"metadata.a=1\n"
		"metadata.sbxfs.name=web\n"
		"metadata.zeta=last\n");
	cr_expect_eq(len, strlen(info));
	free(info);
	sbx_unref(s);
}

Test(model, render_info_escapes)
{
	struct sbx_meta m[] = { { "multi\nline", "a\nb\\c" }, { "k=v", "tab\there" } };
	struct sbx *s = sbx_new("id1", "tpl", NULL, SBX_STATE_PAUSED, 0, 0, m, 2);
	size_t len;

	cr_assert_not_null(s);
	char *info = sbx_render_info(s, &len);
	cr_expect_str_eq(info,
		"sandbox_id=id1\n"
		"template_id=tpl\n"
		"alias=\n"
		"client_id=\n"
		"state=paused\n"
		"started_at=\n"
		"end_at=\n"
		"cpu_count=\n"
		"memory_mb=\n"
		"disk_size_mb=\n"
		"envd_version=\n"
		"metadata.k\\x3dv=tab\\x09here\n"
		"metadata.multi\\nline=a\\nb\\\\c\n");
	free(info);
	sbx_unref(s);
}

Test(model, new_and_with)
{
	struct sbx_meta m[] = { { "z", "1" }, { SBX_NAME_KEY, "web" } };
	struct sbx *s = sbx_new("id1", "base", "alias", SBX_STATE_RUNNING, 1000, 1600, m, 2);
	struct sbx *p;

	cr_assert_not_null(s);
	cr_expect_str_eq(s->meta[0].key, SBX_NAME_KEY);
	cr_expect_str_eq(sbx_meta_get(s, SBX_NAME_KEY), "web");
	cr_expect(strstr(ij(s), "\"state\": \"running\""), "%s", ij(s));
	cr_expect(strstr(ij(s), "\"startedAt\": \"1970-01-01T00:16:40Z\""), "%s", ij(s));

	p = sbx_with(s, SBX_STATE_PAUSED, 5000);
	cr_assert_not_null(p);
	cr_expect_eq(p->state, SBX_STATE_PAUSED);
	cr_expect_eq(p->end_at, 5000);
	cr_expect_eq(p->started_at, 1000);
	cr_expect_str_eq(p->alias, "alias");
	cr_expect_str_eq(sbx_meta_get(p, "z"), "1");
	cr_expect(strstr(ij(p), "\"state\": \"paused\""), "%s", ij(p));
	cr_expect(strstr(ij(p), "\"endAt\": \"1970-01-01T01:23:20Z\""), "%s", ij(p));
	cr_expect_eq(s->state, SBX_STATE_RUNNING, "original changed");

	/* From parsed JSON, unknown members survive sbx_with. */
	struct sbx *q;
	char why[200];
	cr_assert_eq(parse("{\"sandboxID\":\"x\",\"templateID\":\"t\",\"futureField\":[1,2],"
			   "\"state\":\"running\"}", &q, why), 0);
	struct sbx *q2 = sbx_with(q, SBX_STATE_PAUSED, 0);
	cr_expect(strstr(ij(q2), "futureField"), "%s", ij(q2));
	cr_expect(strstr(ij(q2), "\"paused\""), "%s", ij(q2));
	sbx_unref(q);
	sbx_unref(q2);
	sbx_unref(p);
	sbx_unref(s);
}

Test(model, refcount)
{
	struct sbx *s = sbx_new("id", "t", NULL, SBX_STATE_RUNNING, 0, 0, NULL, 0);

	cr_assert_not_null(s);
	cr_expect_eq(sbx_ref(s), s);
	cr_expect_eq(s->refs, 2);
	sbx_unref(s);
	cr_expect_eq(s->refs, 1);
	sbx_unref(s);
	sbx_unref(NULL);
	cr_expect_null(sbx_ref(NULL));
}

Test(model, compact)
{
	/* Budget: 10,000 typical sandboxes must fit in a few MiB. */
	struct sbx *s;
	char why[200];

	cr_assert_eq(parse(GOOD_ITEM, &s, why), 0);
	size_t strings = s->json_src_len + strlen(s->id) + strlen(s->template_id) + 64;
	cr_expect_lt(sizeof(struct sbx) + strings, 1024, "one sandbox costs %zu bytes",
		     sizeof(struct sbx) + strings);
	sbx_unref(s);
}

/* ---- info.json rendered lazily from a list's raw JSON ------------------ */

/* Tokens at several depths and inside arrays, user metadata with token-like
 * keys, strings holding brackets, commas, escapes and UTF-8, nested arrays,
 * numbers, a duplicate key, whitespace and newlines before the commas. */
static const char TRICKY_LIST[] =
	"[ \n"
	" {\"sandboxID\":\"t1\",\"templateID\":\"base\",\"envdAccessToken\":\"SECRET-top\","
	"\"auth\":{\"refreshToken\":\"SECRET-2\",\"inner\":{\"deep\":{\"client_secret\":"
	"\"SECRET-3\",\"keep\":\"yes\"}}},\"list\":[[{\"apiKey\":\"SECRET-4\",\"n\":1}],"
	"[{\"Password\":\"SECRET-5\"}]],\"metadata\":{\"my_token\":\"user-kept\","
	"\"API_KEY\":\"user-kept-2\"},\"tail\":\"]},[{\\\"x\"}   \n"
	"\t,\n"
	" {\"sandboxID\":\"t2\",\"templateID\":\"base\",\"metadata\":{\"session_token\":"
	"\"visible\",\"secretive\":\"also\"},\"state\":\"paused\"}\n"
	",{\"sandboxID\":\"t3\",\"templateID\":\"b\\u0061se\",\"alias\":\"caf\\u00e9 "
	"\\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\t \\u0001 naïve ☃\",\"note\":\"],[{,}\\\"\\\\\","
	"\"extra\":[[1,[2,[3,{\"a\":[]}]]],{},[],\"[\",-0.0,1.5e300,1e-7,12345678901234,"
	"true,false,null],\"dup\":1,\"dup\":{\"tokenX\":\"SECRET-6\"}}\n"
	"\n"
	"  ,\t{\"sandboxID\":\"t4\",\"templateID\":\"base\",\"state\":\"running\","
	"\"startedAt\":\"2026-11-28T14:14:27.5Z\",\"endAt\":\"2026-11-28T14:24:27Z\","
	"\"cpuCount\":2,\"memoryMB\":512,\"metadata\":{}}\n"
	"  ]\n";

/* What info.json showed for t1 and t3 before it was rendered lazily. */
static const char TRICKY_T1[] =
	"{\n"
	"  \"sandboxID\": \"t1\",\n"
	"  \"templateID\": \"base\",\n"
	"  \"auth\": {\n"
	"    \"inner\": {\n"
	"      \"deep\": {\n"
	"        \"keep\": \"yes\"\n"
	"      }\n"
	"    }\n"
	"  },\n"
	"  \"list\": [\n"
	"    [\n"
	"      {\n"
	"        \"n\": 1\n"
	"      }\n"
	"    ],\n"
	"    [\n"
	"      {}\n"
	"    ]\n"
	"  ],\n"
	"  \"metadata\": {\n"
	"    \"my_token\": \"user-kept\",\n"
	"    \"API_KEY\": \"user-kept-2\"\n"
	"  },\n"
	"  \"tail\": \"]},[{\\\"x\"\n"
	"}\n";

static const char TRICKY_T3[] =
	"{\n"
	"  \"sandboxID\": \"t3\",\n"
	"  \"templateID\": \"base\",\n"
	"  \"alias\": \"café 😀 \\\"q\\\" \\\\ / \\t \\u0001 naïve ☃\",\n"
	"  \"note\": \"],[{,}\\\"\\\\\",\n"
	"  \"extra\": [\n"
	"    [\n"
	"      1,\n"
	"      [\n"
	"        2,\n"
	"        [\n"
	"          3,\n"
	"          {\n"
	"            \"a\": []\n"
	"          }\n"
	"        ]\n"
	"      ]\n"
	"    ],\n"
	"    {},\n"
	"    [],\n"
	"    \"[\",\n"
	"    -0.0,\n"
	"    1.5000000000000001e300,\n"
	"    9.9999999999999995e-8,\n"
	"    12345678901234,\n"
	"    true,\n"
	"    false,\n"
	"    null\n"
	"  ],\n"
	"  \"dup\": {}\n"
	"}\n";

Test(model, lazy_info_json_exact)
{
	struct sbx **items;
	size_t n, len;
	char why[200];

	cr_assert_eq(sbx_list_from_json(TRICKY_LIST, strlen(TRICKY_LIST), &items, &n, why,
					sizeof(why)), 0, "%s", why);
	cr_assert_eq(n, 4);
	cr_expect_str_eq(items[2]->template_id, "base");
	cr_expect_str_eq(items[3]->id, "t4");
	for (size_t i = 0; i < n; i++) {
		const char *json = sbx_info_json(items[i], &len);

		cr_assert_not_null(json);
		cr_expect(items[i]->json_raw, "item %zu rendered eagerly", i);
		cr_expect_eq(len, strlen(json));
		cr_expect_eq(json[len - 1], '\n');
		cr_expect_null(strstr(json, "SECRET"), "%s", json);
		/* memoized: the same text every time */
		cr_expect_eq(ij(items[i]), json);
	}
	cr_expect_str_eq(ij(items[0]), TRICKY_T1);
	cr_expect_str_eq(ij(items[2]), TRICKY_T3);
	/* metadata is the user's: token-like keys stay, tokens elsewhere or not */
	cr_expect(strstr(ij(items[1]), "\"session_token\": \"visible\""));
	sbx_array_free(items, n);
}

/* The lazy path renders what the eager one (sbx_from_json) does, for every
 * item of every list the other tests use too. */
static void expect_same_as_eager(const char *body)
{
	json_t *root = json_loads(body, 0, NULL);
	struct sbx **items, *eager;
	size_t n;
	char why[200];

	cr_assert_eq(sbx_list_from_json(body, strlen(body), &items, &n, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(json_array_size(root), n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(sbx_from_json(json_array_get(root, i), &eager, why, sizeof(why)), 0);
		cr_expect(!eager->json_raw);
		cr_expect_str_eq(ij(items[i]), sbx_info_json(eager, NULL));
		sbx_unref(eager);
	}
	sbx_array_free(items, n);
	json_decref(root);
}

Test(model, lazy_matches_eager)
{
	expect_same_as_eager(TRICKY_LIST);
	expect_same_as_eager("[" GOOD_ITEM ",{\"sandboxID\":\"y\",\"templateID\":\"t\"}]");
	expect_same_as_eager("[{\"sandboxID\":\"x\",\"templateID\":\"t\",\"envdAccessToken\":\"S\","
			     "\"metadata\":{\"token\":\"k\"},\"m2\":{\"metadata\":{\"token\":\"d\"}}}]");
	expect_same_as_eager("[{\"sandboxID\":\"x\",\"templateID\":\"t\",\"extra\":[[[{\"a\":[1]}]]]}]");
}

/* A state change of a listed sandbox overrides its info.json: the write
 * keeps the raw JSON and renders nothing; the first read applies the
 * overrides. */
Test(model, lazy_with)
{
	struct sbx **items, *p;
	size_t n;
	char why[200];

	cr_assert_eq(sbx_list_from_json(TRICKY_LIST, strlen(TRICKY_LIST), &items, &n, why,
					sizeof(why)), 0, "%s", why);
	p = sbx_with(items[0], SBX_STATE_PAUSED, 5000);
	cr_assert_not_null(p);
	cr_expect(p->json_raw && p->json_overrides, "the write rendered info.json");
	cr_expect_null(p->info_memo, "the write rendered info.json");
	cr_expect_str_eq(p->id, "t1");
	cr_expect_str_eq(sbx_meta_get(p, "my_token"), "user-kept");
	cr_expect_null(strstr(ij(p), "SECRET"));
	cr_expect(strstr(ij(p), "\"state\": \"paused\""));
	cr_expect(strstr(ij(p), "\"tail\": \"]},[{\\\"x\""));
	sbx_unref(p);
	sbx_array_free(items, n);
}

static void *info_json_thread(void *arg)
{
	return (void *)sbx_info_json(arg, NULL);
}

/* Threads racing to render see one text; the losers' copies are freed
 * (the sanitizer build would report a leak). */
Test(model, lazy_race)
{
	pthread_t t[8];
	void *got[8];
	struct sbx **items;
	size_t n;
	char why[200];

	cr_assert_eq(sbx_list_from_json(TRICKY_LIST, strlen(TRICKY_LIST), &items, &n, why,
					sizeof(why)), 0, "%s", why);
	for (size_t i = 0; i < 8; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, info_json_thread, items[2]), 0);
	for (size_t i = 0; i < 8; i++) {
		pthread_join(t[i], &got[i]);
		cr_expect_not_null(got[i]);
		cr_expect_eq(got[i], got[0]);
	}
	cr_expect_str_eq(got[0], TRICKY_T3);
	sbx_array_free(items, n);
}

/* info.json of s after a write, as it was made before overrides: the
 * rendered text loaded, state and endAt set, dumped again. */
static char *edited_the_old_way(const struct sbx *s, enum sbx_state state, time_t end_at)
{
	json_t *o = json_loads(ij(s), 0, NULL);
	char t[SBX_TIME_LEN], *text, *out;

	cr_assert_not_null(o);
	json_object_set_new(o, "state", json_string(sbx_state_name(state)));
	json_object_set_new(o, "endAt", json_string(sbx_format_time(end_at, t)));
	text = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	cr_assert_geq(asprintf(&out, "%s\n", text), 0);
	free(text);
	return out;
}

/* Overrides render what editing the text rendered: for a listed sandbox,
 * for one built from known values, and after two writes in a row. */
Test(model, overrides_render_as_the_edit_did)
{
	struct sbx_meta m = { "k", "v" };
	struct sbx **items, *made, *w1, *w2;
	size_t n;
	char why[200], *want;

	cr_assert_eq(sbx_list_from_json(TRICKY_LIST, strlen(TRICKY_LIST), &items, &n, why,
					sizeof(why)), 0, "%s", why);
	made = sbx_new("m1", "base", "al", SBX_STATE_RUNNING, 100, 700, &m, 1);
	cr_assert_not_null(made);
	struct sbx *from[] = { items[0], items[1], made };

	for (size_t i = 0; i < 3; i++) {
		want = edited_the_old_way(from[i], SBX_STATE_PAUSED, 5000);
		w1 = sbx_with(from[i], SBX_STATE_PAUSED, 5000);
		cr_assert_not_null(w1);
		cr_expect_str_eq(ij(w1), want, "sandbox %zu", i);
		free(want);
		want = edited_the_old_way(w1, SBX_STATE_RUNNING, 9000);
		w2 = sbx_with(w1, SBX_STATE_RUNNING, 9000);
		cr_assert_not_null(w2);
		cr_expect_str_eq(ij(w2), want, "sandbox %zu, second write", i);
		free(want);
		sbx_unref(w2);
		sbx_unref(w1);
	}
	sbx_unref(made);
	sbx_array_free(items, n);
}

/* The agent's credentials are kept in a record of their own, through own
 * writes too, and neither info nor info.json shows the token. */
Test(model, credentials_are_kept_but_never_rendered)
{
	struct sbx *s, *w;
	char why[200], *info;

	cr_assert_eq(parse("{\"sandboxID\":\"x\",\"templateID\":\"t\","
			   "\"envdAccessToken\":\"SECRET-envd\",\"domain\":\"e2b.app\"}",
			   &s, why), 0, "%s", why);
	cr_expect_str_eq(s->creds.envd_access_token, "SECRET-envd");
	cr_expect_str_eq(s->creds.domain, "e2b.app");
	w = sbx_with(s, SBX_STATE_PAUSED, 5000);
	cr_assert_not_null(w);
	cr_expect_str_eq(w->creds.envd_access_token, "SECRET-envd");
	cr_expect_str_eq(w->creds.domain, "e2b.app");
	for (struct sbx *e = s; e; e = e == s ? w : NULL) {
		info = sbx_render_info(e, NULL);
		cr_assert_not_null(info);
		cr_expect_null(strstr(info, "SECRET"), "%s", info);
		cr_expect_null(strstr(ij(e), "SECRET"), "%s", ij(e));
		free(info);
	}
	sbx_unref(w);
	sbx_unref(s);
	/* A credential of another type is none, and the sandbox still reads. */
	cr_assert_eq(parse("{\"sandboxID\":\"y\",\"templateID\":\"t\",\"envdAccessToken\":7,"
			   "\"domain\":null}", &s, why), 0, "%s", why);
	cr_expect_str_eq(s->creds.envd_access_token, "");
	cr_expect_str_eq(s->creds.domain, "");
	sbx_unref(s);
}
