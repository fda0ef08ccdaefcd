/* The envd client: where a sandbox's agent is, the headers it wants, and
 * the attempts of one call with its outcome mapped to errno (envd.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "common/clock.h"
#include "common/scrub.h"
#include "envd_priv.h"
#include "util/log.h"

struct envdc {
	char *sandbox_url;          /* without a trailing '/'; NULL: per host */
	char *domain;
	char *user;
	char *cafile;
	char *auth_header;          /* "Authorization: Basic base64(user:)" */
	const char *id_header;      /* "E2b-Sandbox-Id" or "Novita-Sandbox-Id" */
	const char *port_header;
	long connect_timeout_ms, request_timeout_ms, deadline_ms;
	bool (*interrupted)(void);  /* set before the threads start */
	struct http_pool *pool;
};

/* Transfers get their time from their size, assuming at least this rate. */
#define MIN_RATE_BYTES_PER_S (256u * 1024)
/* Transfers from this size on use libcurl's large buffers (http.h). */
#define LARGE_TRANSFER (1024u * 1024)

static char *basic_auth(const char *user)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(user) + 1, o = 0;
	unsigned char in[300];
	char *out;

	if (n > sizeof(in) - 2 || (out = malloc(40 + (n + 2) / 3 * 4)) == NULL)
		return NULL;
	memcpy(in, user, n - 1);
	in[n - 1] = ':';
	in[n] = in[n + 1] = 0;
	o = (size_t)sprintf(out, "Authorization: Basic ");
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

		out[o++] = tbl[v >> 18 & 63];
		out[o++] = tbl[v >> 12 & 63];
		out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tbl[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

struct envdc *envdc_new(const struct envdc_config *cfg, char **errmsg)
{
	struct envdc *e = calloc(1, sizeof(*e));
	bool novita = cfg->provider && strcmp(cfg->provider, "novita") == 0;

	*errmsg = NULL;
	if (e == NULL)
		goto nomem;
	e->sandbox_url = cfg->sandbox_url ? strdup(cfg->sandbox_url) : NULL;
	e->domain = cfg->domain ? strdup(cfg->domain) : NULL;
	e->user = strdup(cfg->user ? cfg->user : "user");
	e->cafile = cfg->cafile ? strdup(cfg->cafile) : NULL;
	e->pool = http_pool_new(16);
	if ((cfg->sandbox_url && !e->sandbox_url) || (cfg->domain && !e->domain) || !e->user ||
	    (cfg->cafile && !e->cafile) || !e->pool || !(e->auth_header = basic_auth(e->user)))
		goto nomem;
	if (e->sandbox_url) {
		size_t n = strlen(e->sandbox_url);

		while (n > 0 && e->sandbox_url[n - 1] == '/')
			e->sandbox_url[--n] = '\0';
	}
	e->id_header = novita ? "Novita-Sandbox-Id" : "E2b-Sandbox-Id";
	e->port_header = novita ? "Novita-Sandbox-Port: 49983" : "E2b-Sandbox-Port: 49983";
	e->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 5000;
	e->request_timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms : 15000;
	e->deadline_ms = cfg->deadline_ms ? cfg->deadline_ms : 30000;
	return e;
nomem:
	envdc_free(e);
	*errmsg = strdup("out of memory");
	return NULL;
}

void envdc_free(struct envdc *e)
{
	if (e == NULL)
		return;
	http_pool_free(e->pool);
	free(e->sandbox_url);
	free(e->domain);
	free(e->user);
	free(e->cafile);
	free(e->auth_header);
	free(e);
}

void envdc_set_interrupt(struct envdc *e, bool (*interrupted)(void))
{
	e->interrupted = interrupted;
}

const char *envdc_user(const struct envdc *e)
{
	return e->user;
}

int envdc_escape(char *dst, size_t size, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(dst);

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || strchr("-._~/", ch);

		if (o + 4 > size)
			return -ENAMETOOLONG;
		if (plain) {
			dst[o++] = (char)ch;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		}
	}
	dst[o] = '\0';
	return 0;
}

/* The URL of path for t, or NULL: *why says -EHOSTUNREACH when neither
 * a sandbox URL nor a domain says where the agent is, else -ENOMEM. */
static char *make_url(const struct envdc *e, const struct envdc_target *t, const char *path,
		      int *why)
{
	const char *dom = t->domain && t->domain[0] ? t->domain : e->domain;
	char *url = NULL;
	int r;

	*why = -ENOMEM;
	if (!e->sandbox_url && (dom == NULL || dom[0] == '\0')) {
		*why = -EHOSTUNREACH;
		return NULL;
	}
	r = e->sandbox_url ? asprintf(&url, "%s%s", e->sandbox_url, path)
			       : asprintf(&url, "https://49983-%s.%s%s", t->id, dom, path);

	return r < 0 ? NULL : url;
}

/* Appends line to *h; false (and *h freed) on ENOMEM. */
static bool add(struct curl_slist **h, const char *line)
{
	struct curl_slist *n = curl_slist_append(*h, line);

	if (n == NULL) {
		curl_slist_free_all(*h);
		*h = NULL;
		return false;
	}
	*h = n;
	return true;
}

static struct curl_slist *make_headers(const struct envdc *e, const struct envdc_target *t,
				       const struct ecall *c)
{
	struct curl_slist *h = NULL;
	char *auth = c->user ? basic_auth(c->user) : NULL;
	char line[600];
	bool ok;

	snprintf(line, sizeof(line), "%s: %s", e->id_header, t->id);
	ok = (!c->user || auth) && add(&h, line) && add(&h, e->port_header) &&
	     add(&h, auth ? auth : e->auth_header) && add(&h, "Expect:") &&
	     add(&h, "Accept-Encoding:");
	free(auth);
	if (!ok)
		return NULL;
	if (c->stream && c->rpc && !add(&h, "Keepalive-Ping-Interval: " ENVDC_KEEPALIVE_S))
		return NULL;
	if (t->token && t->token[0]) {
		snprintf(line, sizeof(line), "X-Access-Token: %s", t->token);
		if (!add(&h, line))
			return NULL;
		explicit_bzero(line, sizeof(line));
	}
	if (c->rpc && !add(&h, "Connect-Protocol-Version: 1"))
		return NULL;
	if (c->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", c->content_type);
		if (!add(&h, line))
			return NULL;
	}
	if (c->range) {
		snprintf(line, sizeof(line), "Range: %s", c->range);
		if (!add(&h, line))
			return NULL;
	}
	return h;
}

static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *i = h; i; i = i->next)
		if (strncmp(i->data, "X-Access-Token:", 15) == 0)
			explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(h);
}

/* ---- one call: its attempts within the deadline ---- */

struct upload_src {
	int fd;
	uint64_t off, len;
};

static size_t upload_read(char *buf, size_t size, void *ctx)
{
	struct upload_src *u = ctx;
	uint64_t left = u->len - u->off;
	ssize_t n;

	if (left == 0)
		return 0;
	n = pread(u->fd, buf, size < left ? size : (size_t)left, (off_t)u->off);
	if (n <= 0)
		return HTTP_SOURCE_ABORT;   /* the spool file shrank or failed */
	u->off += (uint64_t)n;
	return (size_t)n;
}

/* The server's reason: a JSON {"code","message"} (code a Connect name or
 * an HTTP number) or its text, scrubbed. */
static void server_reason(const struct http_response *rs, struct envdc_error *err)
{
	json_t *j = rs->body ? json_loadb(rs->body, rs->len, 0, NULL) : NULL;
	const char *code = json_string_value(json_object_get(j, "code"));
	const char *msg = json_string_value(json_object_get(j, "message"));

	if (code)
		snprintf(err->code, sizeof(err->code), "%s", code);
	if (msg)
		scrub_text(err->message, sizeof(err->message), msg, strlen(msg));
	else if (rs->body && rs->len)
		scrub_text(err->message, sizeof(err->message), rs->body, rs->len);
	else
		snprintf(err->message, sizeof(err->message), "HTTP %ld", rs->status);
	json_decref(j);
}

/* What one attempt means: 0, or -errno with *err and whether to retry. */
static int judge(const struct ecall *c, const struct http_response *rs,
		 struct envdc_error *err, bool *retry)
{
	*retry = false;
	memset(err, 0, sizeof(*err));
	err->http_status = rs->status;
	if (rs->sink_err) {
		snprintf(err->message, sizeof(err->message), "%s", strerror(-rs->sink_err));
		return rs->sink_err;
	}
	if (rs->curl_code != CURLE_OK) {
		scrub_text(err->message, sizeof(err->message), rs->errbuf, strlen(rs->errbuf));
		*retry = !rs->too_large && http_retry_transport(c->rc, rs->curl_code);
		return rs->too_large ? -EIO : envdc_errno_transport(rs->curl_code, rs->os_errno);
	}
	if (rs->status >= 200 && rs->status < 300)
		return 0;
	server_reason(rs, err);
	*retry = http_retry_status(c->rc, rs->status, rs->retry_after);
	return envdc_errno_status(rs->status, err->code, err->message);
}

/* A call (not a stream, whose cancel reads -EINTR) its caller cancelled. */
static bool cancelled(const struct ecall *c)
{
	return c->cancel && __atomic_load_n(c->cancel, __ATOMIC_ACQUIRE);
}

static long attempt_timeout(const struct envdc *e, const struct ecall *c)
{
	return e->request_timeout_ms + (long)(c->transfer_len / MIN_RATE_BYTES_PER_S) * 1000;
}

static int attempts(struct envdc *e, const struct ecall *c, struct http_request *rq,
		    struct http_response *rs, struct envdc_error *err)
{
	int64_t deadline_at = clock_mono_ms() + e->deadline_ms + attempt_timeout(e, c);
	struct upload_src up = { c->upload_fd, 0, c->upload_len };
	struct http_source src = { upload_read, &up, (long long)c->upload_len };
	int r = -ETIMEDOUT;

	if (c->upload_fd >= 0)
		rq->source = &src;
	else if (c->source)
		rq->source = c->source;
	for (unsigned attempt = 0;; attempt++) {
		int64_t left = deadline_at - clock_mono_ms();
		bool retry;

		if (!c->stream && cancelled(c))
			return -ECANCELED;
		if (!c->stream && (left <= 0 || (e->interrupted && e->interrupted())))
			return left <= 0 ? r : -EINTR;
		up.off = 0;
		http_response_clear(rs);
		rq->timeout_ms = attempt_timeout(e, c) < left ? attempt_timeout(e, c) : (long)left;
		if (c->stream)
			rq->timeout_ms = 0;
		if (http_perform(e->pool, rq, rs) < 0)
			return -ENOMEM;
		log_debug("envd %s %s -> %ld (%ld ms)", c->op, c->subject, rs->status,
			  rs->elapsed_ms);
		r = judge(c, rs, err, &retry);
		if (r < 0 && !c->stream && cancelled(c))
			return -ECANCELED;
		if (r == 0 || !retry || attempt >= 3 || rs->streamed || c->stream)
			return r;
		long delay = http_retry_delay_ms(rs, attempt);

		if (clock_mono_ms() + delay >= deadline_at)
			return r;
		clock_sleep_ms(delay);
	}
}

int envdc_call(struct envdc *e, const struct envdc_target *t, const struct ecall *c,
	      struct http_response *rs, struct envdc_error *err)
{
	struct http_request rq = {
		.method = c->method, .body = c->body, .body_len = c->body_len, .sink = c->sink,
		.max_body = c->max_body, .cafile = e->cafile,
		.cancel = c->cancel,
		.idle_timeout_s = c->idle_s < 0 ? (e->request_timeout_ms + 999) / 1000 : c->idle_s,
		.connect_timeout_ms = e->connect_timeout_ms,
		.fresh_connection = http_retry_fresh_connection(c->rc),
		.large = c->transfer_len >= LARGE_TRANSFER,
		/* A stream runs on its own thread, never a FUSE request's. */
		.interrupted = c->stream ? NULL : e->interrupted,
	};
	struct curl_slist *h = make_headers(e, t, c);
	int r = -ENOMEM;
	char *url = make_url(e, t, c->path, &r);

	memset(rs, 0, sizeof(*rs));
	memset(err, 0, sizeof(*err));
	snprintf(err->message, sizeof(err->message), "%s", r == -ENOMEM ? "out of memory" :
		 "no domain for the sandbox's agent (set -o sandbox_url)");
	if (h && url) {
		r = -ENOMEM;
		rq.url = url;
		rq.headers = h;
		r = attempts(e, c, &rq, rs, err);
	}
	free_headers(h);
	free(url);
	if (r < 0) {
		http_response_clear(rs);
		if (c->debug_only || r == c->quiet || r == -EINTR || r == -ECANCELED)
			log_debug("envd %s %s: %s (%s)", c->op, c->subject, err->message,
				  strerror(-r));
		else
			log_warn("envd %s %s failed: %s (%s, HTTP %ld)", c->op, c->subject,
				 err->message, strerror(-r), err->http_status);
	}
	return r;
}
