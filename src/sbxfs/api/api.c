/* The sandbox REST calls: URLs, bodies, the attempts and the stats.
 * Transport lives in http/http.c and the retry classes in http/retry.c,
 * the errno policy in errmap.c, the calls themselves in calls.c and the
 * paged listing in api_list.c.
 *
 * Retry rules, each operation's class of http/retry.h (attempts are spread by exponential backoff with jitter, or
 * by Retry-After when the server sends one, all within deadline_ms; when
 * the wait would pass the deadline the call gives up at once):
 *  - list, get, probe, kill, set timeout (idempotent): 429, 502, 503, 504
 *    and transport failures (refused, DNS, timeout, dropped connection).
 *    A 404 from a retried kill counts as success: an earlier attempt may
 *    have done the work.
 *  - pause, resume: only when the request was certainly not processed:
 *    429 and 503 replies, and failures to connect or resolve.
 *  - create: only failures to connect or resolve, 503, and 429 with
 *    Retry-After that is not a quota.  Never after a timeout, a dropped
 *    connection, 500, 502 or 504: the sandbox may exist by then.
 * A 429 on create is a quota (EDQUOT, not retried) when it has no
 * Retry-After or its message speaks of a concurrency limit or quota. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <jansson.h>

#include "api.h"
#include "api_priv.h"
#include "errmap.h"
#include "http/http.h"
#include "http/retry.h"
#include "util/log.h"
#include "common/scrub.h"
#include "common/clock.h"

#define MIN_ATTEMPT_MS 100      /* an attempt needs at least this long */

struct api {
	char *url;                /* without trailing slashes */
	char *cafile;
	long connect_timeout_ms, request_timeout_ms, deadline_ms, list_deadline_ms;
	unsigned max_retries;
	size_t max_sandboxes;
	bool (*interrupted)(void);    /* set before threads start */
	struct http_pool *pool;
	pthread_mutex_t lock;     /* guards key_header and stats */
	char *key_header;         /* "X-API-Key: ..." */
	bool key_scrubbed;        /* the key went into scrub.h's set */
	struct api_stats stats;
};

static const char *const op_names[] = {
	[API_OP_LIST] = "list", [API_OP_GET] = "get", [API_OP_CREATE] = "create",
	[API_OP_KILL] = "kill", [API_OP_TIMEOUT] = "timeout", [API_OP_PAUSE] = "pause",
	[API_OP_RESUME] = "resume", [API_OP_PROBE] = "probe", [API_OP_METRICS] = "metrics",
	[API_OP_LOGS] = "logs",
};

static long now_ms(void)
{
	return (long)clock_mono_ms();
}

static bool cancelled(const int *cancel)
{
	return cancel && __atomic_load_n(cancel, __ATOMIC_ACQUIRE);
}

/* Why the caller should stop now: -ECANCELED, -EINTR, or 0. */
static int stop_reason(const struct api *a, const struct call *c)
{
	if (cancelled(c->cancel))
		return -ECANCELED;
	if (a->interrupted && a->interrupted())
		return -EINTR;
	return 0;
}

/* Sleeps ms, in slices short enough to notice a stop within 50 ms. */
static void sleep_ms(const struct api *a, long ms, const struct call *c)
{
	while (ms > 0 && !stop_reason(a, c)) {
		long slice = ms > 50 ? 50 : ms;

		clock_sleep_ms(slice);
		ms -= slice;
	}
}

/* ---- construction --------------------------------------------------------- */

static bool header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

#define KEY_HEADER "X-API-Key: "

static char *make_key_header(const char *key)
{
	char *h;

	if (asprintf(&h, KEY_HEADER "%s", key) < 0)
		return NULL;
	return h;
}

static struct api *fail_new(struct api *a, char **errmsg, const char *msg)
{
	if (errmsg)
		*errmsg = strdup(msg);
	api_free(a);
	return NULL;
}

struct api *api_new(const struct api_config *cfg, char **errmsg)
{
	struct api *a;
	size_t n;

	if (errmsg)
		*errmsg = NULL;
	if (!cfg || !cfg->url || !cfg->api_key)
		return fail_new(NULL, errmsg, "API URL and key are required");
	if (strncasecmp(cfg->url, "http://", 7) != 0 && strncasecmp(cfg->url, "https://", 8) != 0)
		return fail_new(NULL, errmsg, "API URL must start with http:// or https://");
	if (!header_safe(cfg->url) || strchr(cfg->url, ' '))
		return fail_new(NULL, errmsg, "API URL contains invalid characters");
	if (!*cfg->api_key || !header_safe(cfg->api_key))
		return fail_new(NULL, errmsg, "API key is empty or contains control characters");
	a = calloc(1, sizeof(*a));
	if (!a)
		return fail_new(NULL, errmsg, "out of memory");
	pthread_mutex_init(&a->lock, NULL);
	a->url = strdup(cfg->url);
	a->cafile = cfg->cafile ? strdup(cfg->cafile) : NULL;
	a->key_header = make_key_header(cfg->api_key);
	a->pool = http_pool_new(16);
	if (!a->url || (cfg->cafile && !a->cafile) || !a->key_header || !a->pool)
		return fail_new(a, errmsg, "out of memory");
	/* From here on no message of this client can show the key. */
	if (scrub_add(cfg->api_key) < 0)
		return fail_new(a, errmsg, "out of memory");
	a->key_scrubbed = true;
	n = strlen(a->url);
	while (n > 0 && a->url[n - 1] == '/')
		a->url[--n] = '\0';
	a->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
	a->request_timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 15000;
	a->deadline_ms = cfg->deadline_ms > 0 ? cfg->deadline_ms : 30000;
	a->max_retries = cfg->max_retries ? cfg->max_retries : 4;
	a->list_deadline_ms = cfg->list_deadline_ms > 0 ? cfg->list_deadline_ms : 4 * a->deadline_ms;
	a->max_sandboxes = cfg->max_sandboxes ? cfg->max_sandboxes : 100000;
	a->stats.reachable = true;   /* until shown otherwise */
	return a;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	http_pool_free(a->pool);
	if (a->key_scrubbed)
		scrub_remove(a->key_header + strlen(KEY_HEADER));
	if (a->key_header) {
		explicit_bzero(a->key_header, strlen(a->key_header));
		free(a->key_header);
	}
	pthread_mutex_destroy(&a->lock);
	free(a->cafile);
	free(a->url);
	free(a);
}

int api_set_key(struct api *a, const char *key)
{
	char *h, *old;

	if (!key || !*key || !header_safe(key))
		return -EINVAL;
	h = make_key_header(key);
	if (!h)
		return -ENOMEM;
	/* The old key stays in the set: a request still in flight, or
	 * whoever still holds that key, may echo it. */
	if (scrub_add(key) < 0) {
		explicit_bzero(h, strlen(h));
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_lock(&a->lock);
	old = a->key_header;
	a->key_header = h;
	pthread_mutex_unlock(&a->lock);
	explicit_bzero(old, strlen(old));
	free(old);
	return 0;
}

void api_set_interrupt(struct api *a, bool (*interrupted)(void))
{
	a->interrupted = interrupted;
}

long api_list_deadline_ms(const struct api *a)
{
	return a->list_deadline_ms;
}

size_t api_max_sandboxes(const struct api *a)
{
	return a->max_sandboxes;
}

long api_now_ms(void)
{
	return now_ms();
}

const char *api_url(const struct api *a)
{
	return a->url;
}

void api_get_stats(struct api *a, struct api_stats *out)
{
	pthread_mutex_lock(&a->lock);
	*out = a->stats;
	pthread_mutex_unlock(&a->lock);
}

/* ---- one call with retries ----------------------------------------------- */

/* How safe each operation is to send again (retry.h). */
static enum http_retry_class retry_class_of(enum api_op op)
{
	switch (op) {
	case API_OP_CREATE: return HTTP_RETRY_ONCE;
	case API_OP_PAUSE:
	case API_OP_RESUME: return HTTP_RETRY_UNPROCESSED;
	default: return HTTP_RETRY_IDEMPOTENT;
	}
}

/* The server's message from an error body {"code":N,"message":"..."}, or
 * the body itself when it is short text, or "HTTP N". */
static void server_message(const struct http_response *rs, char *dst, size_t dstlen)
{
	json_t *o = rs->len ? json_loadb(rs->body, rs->len, 0, NULL) : NULL;
	const json_t *m = json_object_get(o, "message");

	if (json_is_string(m) && json_string_length(m) > 0)
		scrub_text(dst, dstlen, json_string_value(m), json_string_length(m));
	else if (!o && rs->len > 0 && rs->len < 200)
		scrub_text(dst, dstlen, rs->body, rs->len);
	else
		snprintf(dst, dstlen, "HTTP %ld", rs->status);
	json_decref(o);
}

static void transport_message(const struct http_response *rs, char *dst, size_t dstlen)
{
	char tmp[sizeof(rs->errbuf) + 64];

	if (rs->too_large)
		snprintf(tmp, sizeof(tmp), "response too large (over %u bytes)", HTTP_BODY_MAX);
	else if (errmap_is_tls(rs->curl_code))
		snprintf(tmp, sizeof(tmp), "TLS failure: %s", rs->errbuf);
	else
		snprintf(tmp, sizeof(tmp), "%s", rs->errbuf);
	scrub_text(dst, dstlen, tmp, strlen(tmp));
}

/* Records a failed call: *err, the stats' last error, a log line. */
int api_call_failed(struct api *a, const struct call *c, struct api_error *err,
		    int status, int r, const char *msg)
{
	struct api_error e = { .http_status = status, .err = r, .when = time(NULL) };
	int plen;

	/* The one place every failure's message passes: no secret in
	 * *err, the status file or the log line. */
	scrub_text(e.message, sizeof(e.message), msg, strlen(msg));
	if (err)
		*err = e;
	pthread_mutex_lock(&a->lock);
	a->stats.failures++;
	a->stats.last_error = e;
	pthread_mutex_unlock(&a->lock);
	plen = (int)strcspn(c->path, "?");   /* queries may carry tokens */
	if (c->op == API_OP_PROBE)
		return r;   /* the caller reports it, on the terminal */
	if (r == -ENOENT)
		log_debug("%s %.*s: %s (HTTP %d)", c->method, plen, c->path, e.message, status);
	else if (status)
		log_warn("%s %s %.*s failed: %s (%s, HTTP %d)", op_names[c->op], c->method,
			 plen, c->path, e.message, strerror(-r), status);
	else
		log_warn("%s %s %.*s failed: %s (%s)", op_names[c->op], c->method,
			 plen, c->path, e.message, strerror(-r));
	return r;
}

static void count_attempt(struct api *a, const struct call *c, const struct http_response *rs)
{
	size_t plen = strcspn(c->path, "?");   /* queries may carry tokens */

	pthread_mutex_lock(&a->lock);
	a->stats.requests++;
	a->stats.reachable = rs->curl_code == CURLE_OK;
	pthread_mutex_unlock(&a->lock);
	if (rs->curl_code == CURLE_OK)
		log_debug("%s %.*s -> %ld (%ld ms)", c->method, (int)plen, c->path,
			  rs->status, rs->elapsed_ms);
	else
		log_debug("%s %.*s -> %s (%ld ms)", c->method, (int)plen, c->path,
			  rs->errbuf, rs->elapsed_ms);
}

static struct curl_slist *make_headers(struct api *a)
{
	struct curl_slist *h = NULL, *t;

	pthread_mutex_lock(&a->lock);
	h = curl_slist_append(NULL, a->key_header);
	pthread_mutex_unlock(&a->lock);
	if (!h)
		return NULL;
	if (!(t = curl_slist_append(h, "Content-Type: application/json")) ||
	    !(t = curl_slist_append(t, "Accept: application/json")) ||
	    !(t = curl_slist_append(t, "Expect:"))) {
		curl_slist_free_all(h);
		return NULL;
	}
	return h;
}

static void free_headers(struct curl_slist *h)
{
	if (h && h->data)
		explicit_bzero(h->data, strlen(h->data));   /* the key */
	curl_slist_free_all(h);
}

/* What one attempt's outcome means: 0 (done), or -errno with the reason
 * in msg and whether the policy allows another attempt. */
/* Was a 2xx JSON body cut short?  One cut by a proxy (its Content-Length
 * matching the cut) starts a document and ends inside it; that is worth
 * another attempt of a GET.  Anything else (whole, or not JSON at all) is
 * for the parse to judge: this only looks at the first and last byte. */
static bool json_cut_short(const struct http_response *rs)
{
	const char *b = rs->body;
	size_t i = 0, n = rs->len;

	if (!b || n == 0)
		return false;
	while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
		i++;
	while (n > i && (b[n - 1] == ' ' || b[n - 1] == '\t' || b[n - 1] == '\r' ||
			 b[n - 1] == '\n'))
		n--;
	return n > i && ((b[i] == '{' && b[n - 1] != '}') || (b[i] == '[' && b[n - 1] != ']'));
}

static int judge_attempt(const struct call *c, const struct http_response *rs,
			 unsigned attempt, char *msg, size_t msglen, bool *retry)
{
	enum http_retry_class rc = retry_class_of(c->op);
	long status = rs->status;
	bool quota;
	int r;

	*retry = false;
	if (rs->curl_code != CURLE_OK) {
		transport_message(rs, msg, msglen);
		*retry = !rs->too_large && http_retry_transport(rc, rs->curl_code);
		return rs->too_large ? -EIO : errmap_transfer(rs->curl_code, rs->os_errno);
	}
	if (status >= 200 && status < 300) {
		if (strcmp(c->method, "GET") != 0 || !json_cut_short(rs))
			return 0;
		snprintf(msg, msglen, "bad reply: the JSON body ends early");
		*retry = true;
		return -EIO;
	}
	if (c->op == API_OP_KILL && status == 404 && attempt > 0)
		return 0;   /* an earlier attempt killed it */
	server_message(rs, msg, msglen);
	quota = c->op == API_OP_CREATE && status == 429 &&
		(rs->retry_after < 0 || errmap_is_quota_message(msg));
	r = api_errno_for_status(c->op, (int)status, quota);
	*retry = !quota && http_retry_status(rc, status, rs->retry_after);
	return r;
}

/* Performs c with the retry policy; see api_priv.h. */
/* Ends the attempts for a cancel or an interrupt: r (-ECANCELED or
 * -EINTR) with its reason in msg. */
static int stopped(int r, char *msg, size_t msglen)
{
	snprintf(msg, msglen, r == -EINTR ? "interrupted" : "cancelled");
	return r;
}

/* The attempts of c within deadline_at over rq (URL and headers set); see
 * api_call_attempts.  The last HTTP status goes to *status. */
static int run_attempts(struct api *a, const struct call *c, struct http_request *rq,
			long deadline_at, struct http_response *rs, int *status,
			char *msg, size_t msglen)
{
	int r = 0, stop;

	for (unsigned attempt = 0;; attempt++) {
		long remaining = deadline_at - now_ms(), delay;
		bool retry;

		if (remaining <= 0) {
			if (!r) {
				r = -ETIMEDOUT;
				snprintf(msg, msglen, "deadline passed");
			}
			return r;
		}
		if ((stop = stop_reason(a, c)) < 0)   /* during the backoff */
			return stopped(stop, msg, msglen);
		http_response_clear(rs);
		rq->timeout_ms = a->request_timeout_ms < remaining ? a->request_timeout_ms : remaining;
		if (http_perform(a->pool, rq, rs) < 0) {
			snprintf(msg, msglen, "out of memory");
			return -ENOMEM;
		}
		count_attempt(a, c, rs);
		if (rs->curl_code == CURLE_ABORTED_BY_CALLBACK && (stop = stop_reason(a, c)) < 0)
			return stopped(stop, msg, msglen);
		*status = (int)rs->status;
		r = judge_attempt(c, rs, attempt, msg, msglen, &retry);
		if (r == 0 || !retry || attempt >= a->max_retries)
			return r;
		delay = http_retry_delay_ms(rs, attempt);
		if (now_ms() + delay + MIN_ATTEMPT_MS > deadline_at)
			return r;   /* no time left for a useful attempt after the wait */
		pthread_mutex_lock(&a->lock);
		a->stats.retries++;
		pthread_mutex_unlock(&a->lock);
		sleep_ms(a, delay, c);
	}
}

int api_call_attempts(struct api *a, const struct call *c, struct http_response *rs,
		      int *status_out, char *msg, size_t msglen)
{
	enum http_retry_class rc = retry_class_of(c->op);
	long deadline_at = now_ms() + a->deadline_ms;
	struct http_request rq = {
		.method = c->method, .body = c->body, .cafile = a->cafile,
		.connect_timeout_ms = a->connect_timeout_ms,
		.fresh_connection = http_retry_fresh_connection(rc),
		.cancel = c->cancel,
		.interrupted = a->interrupted,
	};
	struct curl_slist *headers;
	char *url = NULL;
	int r, status = 0;

	memset(rs, 0, sizeof(*rs));
	msg[0] = '\0';
	headers = make_headers(a);
	if (!headers || asprintf(&url, "%s%s", a->url, c->path) < 0) {
		url = NULL;
		r = -ENOMEM;
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	rq.url = url;
	rq.headers = headers;
	if (c->deadline_at && c->deadline_at < deadline_at)
		deadline_at = c->deadline_at;
	r = run_attempts(a, c, &rq, deadline_at, rs, &status, msg, msglen);
out:
	free_headers(headers);
	free(url);
	if (r)
		http_response_clear(rs);
	*status_out = status;
	return r;
}
