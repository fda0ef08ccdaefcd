/* envd test helpers; see envdutil.h. */
#include "envdutil.h"

#include "http/server.h"
#include "runtime/runtime.h"
#include "testrt.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The test backend: every sandbox's root is one directory; both users
 * are this process's uid, as under an unprivileged dir runtime. */
/* Creates f's sandbox from template tpl: its ID and token into f. */
static void create(struct efix *f, const char *tpl)
{
	char body[128];
	struct resp r;

	snprintf(body, sizeof(body), "{\"templateID\":\"%s\"}", tpl);
	http(&f->t, "POST", "/sandboxes", TEST_KEY, body, &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	json_t *j = resp_json(&r);

	snprintf(f->id, sizeof(f->id), "%s", json_string_value(json_object_get(j, "sandboxID")));
	snprintf(f->token, sizeof(f->token), "%s",
		 json_string_value(json_object_get(j, "envdAccessToken")));
	json_decref(j);
	resp_free(&r);
}

void efix_start(struct efix *f)
{
	struct sbxd_config cfg = { 0 };
	char p[PATH_MAX];

	memset(f, 0, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/sbxd-envd-XXXXXX");
	cr_assert_not_null(mkdtemp(f->root));
	const char *dirs[] = { "/home", "/home/user", "/root", "/tmp" };

	for (size_t i = 0; i < 4; i++)
		cr_assert_eq(mkdir(ehost(f, dirs[i], p), 0755), 0);
	/* "big" leaves room for the 1 GiB test, "tiny" fills at once. */
	snprintf(f->templates, sizeof(f->templates), "%s.templates.json", f->root);
	FILE *fp = fopen(f->templates, "w");

	cr_assert_not_null(fp);
	fputs("[{\"templateID\":\"big\",\"diskSizeMB\":4096},"
	      "{\"templateID\":\"tiny\",\"diskSizeMB\":1}]", fp);
	fclose(fp);
	cfg.templates_file = f->templates;
	tsrv_start(&f->t, &cfg);
	static struct envd_backend be;

	testrt_backend(&be, f->root, true);
	envd_set_backend(sbxd_envd(f->t.s), &be);
	create(f, "big");
}

void efix_start_rt(struct efix *f, struct rt *rt, const char *state)
{
	struct sbxd_config cfg = { 0 };
	char err[256];

	memset(f, 0, sizeof(*f));
	tsrv_start(&f->t, &cfg);
	create(f, "base");
	struct rt_box_spec spec = { .id = f->id, .template_id = "base", .cpu_count = 1,
				    .memory_mb = 256, .disk_mb = 512, .internet = false };
	int rc = rt_create(rt, &spec, err, sizeof(err));

	cr_assert_eq(rc, 0, "rt_create: %d %s", rc, err);
	static struct envd_backend be;

	envd_backend_rt(rt, &be);
	envd_set_backend(sbxd_envd(f->t.s), &be);
	snprintf(f->root, sizeof(f->root), "%s/sandboxes/%s/root", state, f->id);
	f->rt = rt;
}

void efix_stop(struct efix *f)
{
	char cmd[PATH_MAX + 16];

	tsrv_stop(&f->t);
	if (f->rt) {
		rt_destroy(f->rt, f->id);
		return;
	}
	unlink(f->templates);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (strstr(f->root, "/tmp/sbxd-envd-") == f->root)
		(void)!system(cmd);
}

const char *ehost(const struct efix *f, const char *p, char out[PATH_MAX])
{
	snprintf(out, PATH_MAX, "%s%s", f->root, p);
	return out;
}

char *eread_host(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *b = NULL;
	size_t n = 0, cap = 0;

	if (!fp)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap && !(b = realloc(b, cap = cap * 2 + 8192)))
			break;
		size_t k = fread(b + n, 1, 4096, fp);

		n += k;
		if (k == 0)
			break;
	}
	fclose(fp);
	if (b)
		b[n] = '\0';
	if (len)
		*len = n;
	return b;
}

size_t ereq_collect(char *p, size_t sz, size_t n, void *ud)
{
	struct eresp *r = ud;

	return tbody_append(&r->body, &r->len, p, sz * n);
}

size_t ereq_header(char *p, size_t sz, size_t n, void *ud)
{
	struct eresp *r = ud;

	theader_take(p, sz * n, "Content-Type", r->content_type, sizeof(r->content_type));
	theader_take(p, sz * n, "Content-Range", r->content_range, sizeof(r->content_range));
	return sz * n;
}

static struct curl_slist *headers(const struct efix *f, const char *const *hdrs)
{
	struct curl_slist *h = NULL;
	char line[256];
	bool own_token = false;

	for (size_t i = 0; hdrs && hdrs[i]; i++) {
		own_token |= !strncasecmp(hdrs[i], "X-Access-Token:", 15) ||
			     !strncasecmp(hdrs[i], "X-No-Token:", 11);
		own_token |= !strncasecmp(hdrs[i], "X-No-Id:", 8);
		h = curl_slist_append(h, hdrs[i]);
	}
	if (!own_token) {
		snprintf(line, sizeof(line), "X-Access-Token: %s", f->token);
		h = curl_slist_append(h, line);
	}
	if (!(hdrs && hdrs[0] && !strncasecmp(hdrs[0], "X-No-Id:", 8))) {
		snprintf(line, sizeof(line), "E2b-Sandbox-Id: %s", f->id);
		h = curl_slist_append(h, line);
	}
	return curl_slist_append(h, "Expect:");
}

void ereq(const struct efix *f, const char *method, const char *path, const char *const *hdrs,
	  const void *body, size_t len, struct eresp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = headers(f, hdrs);
	char url[4096];

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", f->t.base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ereq_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, ereq_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	CURLcode cc = curl_easy_perform(c);

	cr_assert_eq(cc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(cc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (!r->body)
		r->body = calloc(1, 1);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

void erpc(const struct efix *f, const char *method, const char *json, struct eresp *r)
{
	const char *h[] = { "Content-Type: application/json", "Connect-Protocol-Version: 1",
			    NULL };
	char path[128];

	snprintf(path, sizeof(path), "/filesystem.Filesystem/%s", method);
	ereq(f, "POST", path, h, json, strlen(json), r);
}

void eresp_free(struct eresp *r)
{
	free(r->body);
	r->body = NULL;
}

json_t *eresp_json(const struct eresp *r)
{
	return json_loadb(r->body, r->len, 0, NULL);
}

const char *eresp_code(const struct eresp *r, char out[64])
{
	json_t *j = eresp_json(r);

	snprintf(out, 64, "%s", json_string_value(json_object_get(j, "code")) ?: "");
	json_decref(j);
	return out;
}

size_t ebase64_decode(const char *in, char *out, size_t max)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned acc = 0, bits = 0;
	size_t n = 0;

	for (; *in && *in != '='; in++) {
		const char *c = strchr(tab, *in);

		if (!c)
			break;
		acc = acc << 6 | (unsigned)(c - tab);
		bits += 6;
		if (bits >= 8 && n < max) {
			bits -= 8;
			out[n++] = (char)(acc >> bits & 0xff);
		}
	}
	return n;
}
