/* HTTP test helpers; see httputil.h. */
#include "httputil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int complaints;

static void count_log(void *ctx, enum sbxd_log_level level, const char *msg)
{
	(void)ctx;
	if (level <= SBXD_LOG_WARN) {
		__atomic_add_fetch(&complaints, 1, __ATOMIC_SEQ_CST);
		fprintf(stderr, "sbxd complained: %s\n", msg);
	}
}

int tsrv_complaints(void)
{
	return __atomic_load_n(&complaints, __ATOMIC_SEQ_CST);
}

void tsrv_start(struct tsrv *t, struct sbxd_config *cfg)
{
	char *err = NULL;

	if (!cfg->api_key)
		cfg->api_key = TEST_KEY;
	if (!cfg->host)
		cfg->host = "127.0.0.1";
	if (!cfg->log) {
		cfg->log = count_log;
		cfg->log_level = SBXD_LOG_WARN;
	}
	if (cfg->listen_fd == 0)
		cfg->listen_fd = -1;
	t->s = sbxd_start(cfg, &err);
	cr_assert_not_null(t->s, "sbxd_start: %s", err ? err : "?");
	snprintf(t->base, sizeof(t->base), "http://127.0.0.1:%u", sbxd_port(t->s));
}

int tsrv_connect(const struct tsrv *t)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(sbxd_port(t->s)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
		     strerror(errno));
	return fd;
}

void tsrv_stop(struct tsrv *t)
{
	sbxd_stop(t->s);
	t->s = NULL;
}

size_t tbody_append(char **body, size_t *len, const char *p, size_t n)
{
	char *b = realloc(*body, *len + n + 1);

	if (!b)
		return 0;
	memcpy(b + *len, p, n);
	*len += n;
	b[*len] = '\0';
	*body = b;
	return n;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;

	return tbody_append(&r->body, &r->len, p, sz * n);
}

void theader_take(const char *line, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len && (*line == ' '))
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, line, len);
	out[len] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;

	theader_take(p, sz * n, "X-Next-Token", r->next_token, sizeof(r->next_token));
	theader_take(p, sz * n, "Retry-After", r->retry_after, sizeof(r->retry_after));
	theader_take(p, sz * n, "Allow", r->allow, sizeof(r->allow));
	theader_take(p, sz * n, "Content-Type", r->content_type, sizeof(r->content_type));
	return sz * n;
}

void http(const struct tsrv *t, const char *method, const char *path, const char *key,
	  const char *body, struct resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[4096], hk[256];

	memset(r, 0, sizeof(*r));
	cr_assert_not_null(c);
	snprintf(url, sizeof(url), "%s%s", t->base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (key) {
		snprintf(hk, sizeof(hk), "X-API-KEY: %s", key);
		h = curl_slist_append(h, hk);
	}
	h = curl_slist_append(h, "Expect:");
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	r->curl_code = (int)curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (!r->body)
		r->body = calloc(1, 1);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

json_t *resp_json(const struct resp *r)
{
	return json_loadb(r->body, r->len, 0, NULL);
}

bool resp_is_error(const struct resp *r)
{
	json_t *j = resp_json(r);
	bool ok = json_is_object(j) &&
		  json_integer_value(json_object_get(j, "code")) == r->status &&
		  json_is_integer(json_object_get(j, "code")) &&
		  json_string_length(json_object_get(j, "message")) > 0 &&
		  strncmp(r->content_type, "application/json", 16) == 0;

	json_decref(j);
	return ok;
}

void create_sandbox(const struct tsrv *t, const char *body, char id[21])
{
	struct resp r;

	http(t, "POST", "/sandboxes", TEST_KEY, body, &r);
	cr_assert_eq(r.status, 201, "create: %ld %s", r.status, r.body);
	json_t *j = resp_json(&r);
	const char *s = json_string_value(json_object_get(j, "sandboxID"));
	cr_assert(s && strlen(s) == 20, "bad sandboxID in %s", r.body);
	memcpy(id, s, 21);
	json_decref(j);
	resp_free(&r);
}
