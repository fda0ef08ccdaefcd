/* envd for the fs/ mount tests; see fsfix.h. */
#include "fsfix.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static char extra_opts[1024];
static const char *user_extra;
static const char *runtime;

static void on_backend(struct sbxd *s)
{
	(void)s;
	snprintf(extra_opts, sizeof(extra_opts), "sandbox_url=%s%s%s", M.url,
		 user_extra ? "," : "", user_extra ? user_extra : "");
	M.opts.extra = extra_opts;
}

const char *fsfix_runtime(void)
{
	if (runtime == NULL)
		runtime = system("bwrap --ro-bind / / --unshare-user true >/dev/null 2>&1") == 0
			  ? "bwrap" : "dir";
	return runtime;
}

void fsfix_start(const char *extra)
{
	struct mnt_opts o = {
		.cache_ttl = 1,
		.templates_json = "[{\"templateID\":\"py3tpl\",\"diskSizeMB\":4096},"
				  "{\"templateID\":\"tiny\",\"diskSizeMB\":1}]\n",
		.runtime = fsfix_runtime(),
		.on_backend = on_backend,
	};

	user_extra = extra;
	mnt_prepare("fsdir", &o);
	mnt_mount();
}

/* The sandboxes of the test, killed before the unmount: a bwrap sandbox's
 * mount namespace holds a copy of the mount, which would keep sbxfs
 * serving after the unmount until the sandbox ends. */
static char made[8][64];
#define MADE_FMT "/sandboxes/%.63s"
static int n_made;

char *fsfix_sandbox(const char *name, const char *tpl)
{
	char *id = rest_create(tpl, name, NULL);

	cr_assert_not_null(id);
	if (n_made < 8)
		snprintf(made[n_made++], sizeof(made[0]), "%s", id);
	return id;
}

void fsfix_stop(void)
{
	char path[96];

	for (int i = 0; i < n_made; i++) {
		snprintf(path, sizeof(path), MADE_FMT, made[i]);
		rest("DELETE", path, NULL, NULL);
	}
	n_made = 0;
	mnt_stop();
}

char *fsfix_start_box(void)
{
	fsfix_start(NULL);
	return fsfix_sandbox("box", "py3tpl");
}

void fsfix_stop_box(char **id)
{
	fsfix_stop();
	free(*id);
	*id = NULL;
}

struct body {
	char *p;
	size_t len;
};

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
	struct body *b = ud;
	char *q = realloc(b->p, b->len + sz * n + 1);

	cr_assert_not_null(q);
	memcpy(q + b->len, p, sz * n);
	b->p = q;
	b->len += sz * n;
	b->p[b->len] = '\0';
	return sz * n;
}

/* One request to sandbox id's envd with its token. */
static long ereq_ct(const char *id, const char *method, const char *path, const char *ct,
		   const char *body, size_t len, struct body *out)
{
	char *token = rest_field(id, "envdAccessToken");
	char url[PATH_MAX * 3 + 128], line[256];
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	long status = 0;

	cr_assert_not_null(c);
	snprintf(url, sizeof(url), "%s%s", M.url, path);
	snprintf(line, sizeof(line), "E2b-Sandbox-Id: %s", id);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-Access-Token: %s", token ? token : "");
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "Content-Type: %s", ct);
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Connect-Protocol-Version: 1");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(token);
	return status;
}

static long ereq(const char *id, const char *method, const char *path, const char *body,
		 struct body *out)
{
	return ereq_ct(id, method, path, "application/json", body, body ? strlen(body) : 0, out);
}

char *eget(const char *id, const char *p, size_t *len, long *status)
{
	struct body b = { 0 };
	char path[PATH_MAX * 3 + 64];
	char *esc = curl_easy_escape(NULL, p, 0);

	snprintf(path, sizeof(path), "/files?path=%s&username=user", esc);
	curl_free(esc);
	*status = ereq(id, "GET", path, NULL, &b);
	if (len)
		*len = b.len;
	if (b.p == NULL)
		b.p = strdup("");
	return b.p;
}

/* A unary Connect call to service's method: the status, *out the reply. */
static long unary(const char *id, const char *service, const char *method, const char *req,
		  json_t **out)
{
	struct body b = { 0 };
	char path[128];
	long status;

	snprintf(path, sizeof(path), "/%s/%s", service, method);
	status = ereq(id, "POST", path, req, &b);
	if (out)
		*out = b.p ? json_loads(b.p, 0, NULL) : NULL;
	free(b.p);
	return status;
}

long erpc(const char *id, const char *method, const char *req, json_t **out)
{
	return unary(id, "filesystem.Filesystem", method, req, out);
}

long eproc(const char *id, const char *method, const char *req, json_t **out)
{
	return unary(id, "process.Process", method, req, out);
}

long estream(const char *id, const char *method, const char *req, char **body, size_t *len)
{
	size_t n = strlen(req);
	char *env = malloc(n + 5), path[128];
	struct body b = { 0 };
	long st;

	env[0] = 0;
	env[1] = (char)(n >> 24);
	env[2] = (char)(n >> 16);
	env[3] = (char)(n >> 8);
	env[4] = (char)n;
	memcpy(env + 5, req, n);
	snprintf(path, sizeof(path), "/process.Process/%s", method);
	st = ereq_ct(id, "POST", path, "application/connect+json", env, n + 5, &b);
	free(env);
	if (body)
		*body = b.p;
	else
		free(b.p);
	if (len)
		*len = b.len;
	return st;
}

int eexists(const char *id, const char *p)
{
	json_t *req = json_pack("{ss}", "path", p);
	char *s = json_dumps(req, 0);
	long st = erpc(id, "Stat", s, NULL);

	free(s);
	json_decref(req);
	cr_assert(st == 200 || st == 404, "Stat %s: HTTP %ld", p, st);
	return st == 200;
}

long eget_to(const char *id, const char *p, const char *out)
{
	char *token = rest_field(id, "envdAccessToken");
	char url[PATH_MAX * 3 + 128], line[256];
	char *esc = curl_easy_escape(NULL, p, 0);
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	FILE *f = fopen(out, "wb");
	long status = 0;

	cr_assert(c && f);
	snprintf(url, sizeof(url), "%s/files?path=%s&username=user", M.url, esc);
	snprintf(line, sizeof(line), "E2b-Sandbox-Id: %s", id);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-Access-Token: %s", token ? token : "");
	h = curl_slist_append(h, line);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 600L);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);   /* libcurl's default fwrite */
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	fclose(f);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	curl_free(esc);
	free(token);
	return status;
}

long eput(const char *id, const char *p, const char *data)
{
	struct body b = { 0 };
	char path[PATH_MAX * 3 + 64];
	char *esc = curl_easy_escape(NULL, p, 0);
	long st;

	snprintf(path, sizeof(path), "/files?path=%s&username=user", esc);
	curl_free(esc);
	st = ereq_ct(id, "POST", path, "application/octet-stream", data, strlen(data), &b);
	free(b.p);
	return st;
}

long erun(const char *id, const char *cmd)
{
	json_t *req = json_pack("{s{sss[sss]}}", "process", "cmd", "/bin/sh", "args", "-c", cmd, "");
	char *js = json_dumps(req, JSON_COMPACT);
	size_t n = strlen(js);
	char *env = malloc(n + 5);
	struct body b = { 0 };
	long st;

	/* One Connect envelope: flags, big-endian length, the message. */
	env[0] = 0;
	env[1] = (char)(n >> 24);
	env[2] = (char)(n >> 16);
	env[3] = (char)(n >> 8);
	env[4] = (char)n;
	memcpy(env + 5, js, n);
	st = ereq_ct(id, "POST", "/process.Process/Start", "application/connect+json", env, n + 5,
		     &b);
	/* Envelopes start with a NUL flag byte: search the bytes. */
	cr_assert(b.p && memmem(b.p, b.len, "\"end\"", 5), "Start %s: %ld", cmd, st);
	free(b.p);
	free(env);
	free(js);
	json_decref(req);
	return st;
}

void eno_upload_temp(const char *id, const char *dir)
{
	char req[PATH_MAX + 32], *text = NULL;

	snprintf(req, sizeof(req), "{\"path\":\"%s\",\"depth\":1}", dir);
	/* A client that abandons an upload closes its connection; the server
	 * removes the temporary when it sees that, a moment later. */
	for (int i = 0; i < 50; i++) {
		json_t *l = NULL;

		free(text);
		cr_assert_eq(erpc(id, "ListDir", req, &l), 200);
		text = json_dumps(l, JSON_COMPACT);
		json_decref(l);
		if (text == NULL || strstr(text, "upload-") == NULL)
			break;
		usleep(100 * 1000);
	}
	cr_assert_null(strstr(text ? text : "", "upload-"), "%s", text);
	free(text);
}
