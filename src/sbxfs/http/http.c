/* One HTTP attempt over a pooled libcurl easy handle.
 *
 * The pool is a stack of idle handles under a mutex: a thread pops one (or
 * makes one), performs its transfer without any lock, and pushes it back,
 * so the handle's live connection is kept alive for the next caller.
 *
 * Each handle is driven through a multi handle of its own (which holds its
 * connection cache, so keep-alive works as with curl_easy_perform), polled
 * in slices of 50 ms: a cancel or an interrupt of the caller's request is
 * noticed that soon even while the server sends nothing, where libcurl's
 * progress callback would come only about once a second. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "http.h"
#include "common/buf.h"
#include "common/clock.h"

#define POLL_SLICE_MS 50

struct handle {
	CURL *easy;
	CURLM *multi;
};

/* The data libcurl shares between the handles of a pool, one lock each
 * as it asks: DNS, TLS sessions, and the share object itself. */
enum { SHARE_DNS, SHARE_SSL, SHARE_OTHER, SHARE_LOCKS };

struct http_pool {
	pthread_mutex_t lock;   /* guards idle and n_idle */
	struct handle *idle;
	unsigned n_idle, max_idle;
	CURLSH *share;
	pthread_mutex_t share_lock[SHARE_LOCKS];  /* taken by libcurl, briefly */
};

/* One transfer's callbacks' view. */
struct xfer {
	CURL *easy;
	const struct http_request *rq;
	struct http_response *rs;
	struct buf body;           /* the reply's body unless it goes to the sink */
};

/* Guards unix_prefix and unix_path, set once at start-up by main but read
 * by every request thread. */
static pthread_mutex_t unix_lock = PTHREAD_MUTEX_INITIALIZER;
static char *unix_prefix, *unix_path;

int http_set_unix_socket(const char *url_prefix, const char *path)
{
	char *pre = url_prefix && path ? strdup(url_prefix) : NULL;
	char *p = url_prefix && path ? strdup(path) : NULL;

	if (url_prefix && path && (!pre || !p)) {
		free(pre);
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_lock(&unix_lock);
	free(unix_prefix);
	free(unix_path);
	unix_prefix = pre;
	unix_path = p;
	pthread_mutex_unlock(&unix_lock);
	return 0;
}

static void set_unix_socket(CURL *h, const char *url)
{
	pthread_mutex_lock(&unix_lock);
	size_t n = unix_prefix ? strlen(unix_prefix) : 0;

	/* The prefix is a whole origin: http://localhost, not ...host.evil. */
	if (unix_prefix && strncmp(url, unix_prefix, n) == 0 && strchr("/?", url[n]))
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, unix_path);  /* copied */
	pthread_mutex_unlock(&unix_lock);
}

static void handle_cleanup(struct handle *h)
{
	if (h->multi)
		curl_multi_cleanup(h->multi);
	if (h->easy)
		curl_easy_cleanup(h->easy);
}

static pthread_mutex_t *share_mutex(struct http_pool *p, curl_lock_data data)
{
	if (data == CURL_LOCK_DATA_DNS)
		return &p->share_lock[SHARE_DNS];
	if (data == CURL_LOCK_DATA_SSL_SESSION)
		return &p->share_lock[SHARE_SSL];
	return &p->share_lock[SHARE_OTHER];
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
	(void)h;
	(void)access;
	pthread_mutex_lock(share_mutex(userp, data));
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	(void)h;
	pthread_mutex_unlock(share_mutex(userp, data));
}

static CURLSH *share_new(struct http_pool *p)
{
	CURLSH *sh = curl_share_init();

	if (!sh)
		return NULL;
	if (curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_USERDATA, p) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		curl_share_cleanup(sh);
		return NULL;
	}
	return sh;
}

struct http_pool *http_pool_new(unsigned max_idle)
{
	struct http_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->max_idle = max_idle ? max_idle : 1;
	p->idle = calloc(p->max_idle, sizeof(*p->idle));
	for (int i = 0; i < SHARE_LOCKS; i++)
		pthread_mutex_init(&p->share_lock[i], NULL);
	if (!p->idle || !(p->share = share_new(p))) {
		for (int i = 0; i < SHARE_LOCKS; i++)
			pthread_mutex_destroy(&p->share_lock[i]);
		free(p->idle);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

void http_pool_free(struct http_pool *p)
{
	if (!p)
		return;
	/* Every handle is back (the pool outlives its callers), and the
	 * handles go before the share they use. */
	for (unsigned i = 0; i < p->n_idle; i++)
		handle_cleanup(&p->idle[i]);
	curl_share_cleanup(p->share);
	for (int i = 0; i < SHARE_LOCKS; i++)
		pthread_mutex_destroy(&p->share_lock[i]);
	pthread_mutex_destroy(&p->lock);
	free(p->idle);
	free(p);
}

static int pool_borrow(struct http_pool *p, struct handle *h)
{
	bool found = false;

	pthread_mutex_lock(&p->lock);
	if (p->n_idle > 0) {
		*h = p->idle[--p->n_idle];
		found = true;
	}
	pthread_mutex_unlock(&p->lock);
	if (found) {
		curl_easy_reset(h->easy);   /* keeps the connection and DNS caches */
		return 0;
	}
	h->easy = curl_easy_init();
	h->multi = curl_multi_init();
	if (!h->easy || !h->multi) {
		handle_cleanup(h);
		return -ENOMEM;
	}
	return 0;
}

static void pool_return(struct http_pool *p, struct handle *h)
{
	bool kept = false;

	pthread_mutex_lock(&p->lock);
	if (p->n_idle < p->max_idle) {
		p->idle[p->n_idle++] = *h;
		kept = true;
	}
	pthread_mutex_unlock(&p->lock);
	if (!kept)
		handle_cleanup(h);
}

static size_t body_cap(const struct http_request *rq)
{
	return rq->max_body ? rq->max_body : HTTP_BODY_MAX;
}

/* A 2xx reply's body goes to the request's sink when it has one. */
static bool to_sink(const struct xfer *x)
{
	long status = 0;

	if (!x->rq->sink)
		return false;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	return status >= 200 && status < 300;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	struct http_response *rs = x->rs;
	size_t n = size * nmemb, cap = body_cap(x->rq);
	int r;

	if (to_sink(x)) {
		if (n > cap - (rs->streamed < cap ? rs->streamed : cap)) {
			rs->too_large = true;
			return 0;
		}
		if ((rs->sink_err = x->rq->sink->write(data, n, x->rq->sink->ctx)) < 0)
			return 0;   /* aborts the transfer: CURLE_WRITE_ERROR */
		rs->sink_err = 0;
		rs->streamed += n;
		return n;
	}
	if ((r = buf_append(&x->body, data, n)) < 0) {
		rs->too_large = r == -EFBIG;
		return 0;   /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	return n;
}

int http_membuf_write(const char *data, size_t len, void *ctx)
{
	struct http_membuf *m = ctx;

	if (len > m->cap - m->len)
		return -EIO;
	memcpy(m->p + m->len, data, len);
	m->len += len;
	return 0;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *userp)
{
	const struct http_source *src = userp;

	return src->read(buf, size * nmemb, src->ctx);
}

/* If line is "Name: value", returns the trimmed value and its length. */
static const char *header_value(const char *line, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *v, *end = line + n;

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	v = line + nl + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

static long parse_retry_after(const char *v, size_t n)
{
	long secs = 0;

	if (n == 0 || n > 9)
		return -1;   /* an HTTP-date or nonsense: treated as absent */
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		secs = secs * 10 + (v[i] - '0');
	}
	return secs;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userp)
{
	struct http_response *rs = ((struct xfer *)userp)->rs;
	size_t n = size * nmemb, vlen;
	const char *v;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue, say): forget the last. */
		rs->retry_after = -1;
		free(rs->next_token);
		rs->next_token = NULL;
		rs->bad_header = false;
	} else if ((v = header_value(line, n, "Retry-After", &vlen))) {
		rs->retry_after = parse_retry_after(v, vlen);
	} else if ((v = header_value(line, n, "X-Next-Token", &vlen))) {
		free(rs->next_token);
		rs->next_token = NULL;
		if (vlen > HTTP_TOKEN_MAX)
			rs->bad_header = true;
		else if (vlen > 0 && !(rs->next_token = strndup(v, vlen)))
			return 0;
	}
	return n;
}

static long now_ms(void)
{
	return (long)clock_mono_ms();
}

static bool stop_asked(const struct http_request *rq)
{
	return (rq->cancel && __atomic_load_n(rq->cancel, __ATOMIC_ACQUIRE)) ||
	       (rq->interrupted && rq->interrupted());
}

static void set_body(CURL *h, const struct http_request *rq)
{
	if (strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (strcmp(rq->method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	if (rq->source) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, (void *)rq->source);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->source->len);
		if (strcmp(rq->method, "PUT") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (rq->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
				 (long)(rq->body_len ? rq->body_len : strlen(rq->body)));
	} else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
}

static void set_options(CURL *h, CURLSH *share, struct xfer *x)
{
	const struct http_request *rq = x->rq;

	curl_easy_setopt(h, CURLOPT_SHARE, share);
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	set_unix_socket(h, rq->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rq->fresh_connection)
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "sbxfs/" SBXFS_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq->headers);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 rq->timeout_ms && rq->timeout_ms < rq->connect_timeout_ms ? rq->timeout_ms
			 : rq->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
	/* A stream without an end of its own still hears from its server
	 * (keepalives): silence this long is a dead connection. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, rq->idle_timeout_s ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, rq->idle_timeout_s);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rq->cafile)
		curl_easy_setopt(h, CURLOPT_CAINFO, rq->cafile);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->rs->errbuf);
	if (rq->large)
		curl_easy_setopt(h, CURLOPT_BUFFERSIZE, HTTP_LARGE_BUFFER);
	if (rq->large && rq->source)
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, HTTP_LARGE_UPLOAD_BUFFER);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	set_body(h, rq);
}

/* Runs the transfer on h's multi handle until it ends or the caller asks
 * to stop; returns its CURLcode. */
static int drive(struct handle *h, const struct http_request *rq)
{
	int code = CURLE_OK, running = 1;
	CURLMsg *msg;
	int left;

	if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK)
		return CURLE_OUT_OF_MEMORY;
	for (;;) {
		if (curl_multi_perform(h->multi, &running) != CURLM_OK) {
			code = CURLE_OUT_OF_MEMORY;
			break;
		}
		if (!running)
			break;
		if (stop_asked(rq)) {
			code = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (curl_multi_poll(h->multi, NULL, 0, POLL_SLICE_MS, NULL) != CURLM_OK) {
			code = CURLE_OUT_OF_MEMORY;
			break;
		}
	}
	while (!running && (msg = curl_multi_info_read(h->multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->easy)
			code = (int)msg->data.result;
	curl_multi_remove_handle(h->multi, h->easy);
	return code;
}

int http_perform(struct http_pool *p, const struct http_request *rq, struct http_response *rs)
{
	long start = now_ms(), os_errno = 0;
	struct handle h;
	struct xfer x = { .rq = rq, .rs = rs };

	memset(rs, 0, sizeof(*rs));
	rs->retry_after = -1;
	if (pool_borrow(p, &h) < 0)
		return -ENOMEM;
	x.easy = h.easy;
	buf_init(&x.body, body_cap(rq));
	set_options(h.easy, p->share, &x);
	rs->curl_code = drive(&h, rq);
	rs->body = buf_steal(&x.body, &rs->len);
	if (rs->curl_code == CURLE_OK) {
		curl_easy_getinfo(h.easy, CURLINFO_RESPONSE_CODE, &rs->status);
	} else {
		curl_easy_getinfo(h.easy, CURLINFO_OS_ERRNO, &os_errno);
		rs->os_errno = (int)os_errno;
		rs->status = 0;
		if (!rs->errbuf[0])
			snprintf(rs->errbuf, sizeof(rs->errbuf), "%s",
				 curl_easy_strerror((CURLcode)rs->curl_code));
	}
	/* Nothing of this request may leak into the next user of h. */
	curl_easy_setopt(h.easy, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h.easy, CURLOPT_HTTPHEADER, NULL);
	/* A transfer that ended without a reply (aborted, cut, timed out)
	 * may leave its connection open mid-body, and libcurl may keep it:
	 * the server would hold what it half received (an upload's
	 * temporary) until its idle timeout.  Closing it tells the server at
	 * once. */
	if (rs->curl_code == CURLE_OK)
		pool_return(p, &h);
	else
		handle_cleanup(&h);
	rs->elapsed_ms = now_ms() - start;
	return 0;
}

void http_response_clear(struct http_response *rs)
{
	if (!rs)
		return;
	free(rs->body);
	free(rs->next_token);
	rs->body = NULL;
	rs->next_token = NULL;
	rs->len = 0;
}
