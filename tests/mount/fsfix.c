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

#include "http/server.h"

static char roots[PATH_MAX / 2];
static char extra_opts[1024];
static const char *user_extra;

/* The test backend: sandbox id's root is roots/<id>, made with /home/user,
 * /root and /tmp on first use; both users are this process's. */
static int root_open(void *ctx, const char *id)
{
	static const char *const dirs[] = { "", "/home", "/home/user", "/root", "/tmp" };
	char p[PATH_MAX];
	int fd;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s%s", (const char *)ctx, id, dirs[i]);
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	snprintf(p, sizeof(p), "%s/%s", (const char *)ctx, id);
	fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int user_of(void *ctx, const char *id, const char *user, uid_t *uid, gid_t *gid,
		   const char **home)
{
	(void)ctx;
	(void)id;
	if (strcmp(user, "user") != 0 && strcmp(user, "root") != 0)
		return -ENOENT;
	*uid = getuid();
	*gid = getgid();
	*home = strcmp(user, "root") == 0 ? "/root" : "/home/user";
	return 0;
}

static void on_backend(struct sbxd *s)
{
	static struct envd_backend be;

	be = (struct envd_backend){ root_open, user_of, NULL, NULL, roots };
	envd_set_backend(sbxd_envd(s), &be);
	snprintf(extra_opts, sizeof(extra_opts), "sandbox_url=%s%s%s", M.url,
		 user_extra ? "," : "", user_extra ? user_extra : "");
	M.opts.extra = extra_opts;
}

void fsfix_start(const char *extra)
{
	struct mnt_opts o = {
		.cache_ttl = 1,
		.templates_json = "[{\"templateID\":\"py3tpl\",\"diskSizeMB\":4096},"
				  "{\"templateID\":\"tiny\",\"diskSizeMB\":1}]\n",
		.on_backend = on_backend,
	};

	user_extra = extra;
	mnt_prepare("fsdir", &o);
	snprintf(roots, sizeof(roots), "%s/roots", M.tmp);
	cr_assert_eq(mkdir(roots, 0755), 0);
	mnt_mount();
}

char *fsfix_sandbox(const char *name, const char *tpl)
{
	char *id = rest_create(tpl, name, NULL);

	cr_assert_not_null(id);
	return id;
}

const char *ehost(const char *id, const char *p)
{
	static char bufs[4][PATH_MAX * 2];
	static int at;
	char *b = bufs[at++ % 4];

	snprintf(b, PATH_MAX * 2, "%s/%s%s", roots, id, p);
	return b;
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
static long ereq(const char *id, const char *method, const char *path, const char *body,
		 struct body *out)
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
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Connect-Protocol-Version: 1");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(token);
	return status;
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

long erpc(const char *id, const char *method, const char *req, json_t **out)
{
	struct body b = { 0 };
	char path[128];
	long status;

	snprintf(path, sizeof(path), "/filesystem.Filesystem/%s", method);
	status = ereq(id, "POST", path, req, &b);
	if (out)
		*out = b.p ? json_loads(b.p, 0, NULL) : NULL;
	free(b.p);
	return status;
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
