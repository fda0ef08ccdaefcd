/* HTTP plumbing and the library entry points (sbxd.h).
 *
 * libmicrohttpd runs a small pool of epoll worker threads: a connection
 * costs memory, not a thread, and a reply delayed by injected latency
 * suspends its connection until conns.c's timer resumes it.  Each request
 * is handled in three steps: on its first callback it is routed, counted
 * and has its fault decided; the body is then collected (capped at 1 MiB,
 * the rest read and dropped); on the last callback it is answered. */
#include "sbxd.h"

#include "http/envd_http.h"
#include "http/faultbody.h"
#include "http/conns.h"
#include "api/boxes.h"
#include "api/handlers.h"
#include "http/listen.h"
#include "http/server.h"
#include "common/buf.h"
#include "common/clock.h"
#include "registry/sbxlog.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_BODY (1u << 20)
#define MAX_DISCARD (64u << 20)  /* an oversize body read to answer 413 cleanly */

struct req_ctx {
	int64_t t0;             /* monotonic ns at the first callback */
	struct conn *conn;      /* conns.c's state; NULL if it had no memory */
	bool begun;             /* first callback done */
	bool delayed;           /* latency served: answer now */
	bool refuse;            /* over a connection limit: 503 */
	bool served;            /* its handler ran */
	char *url;              /* while delayed: the request's URL, malloc'd */
	struct route_match m;
	bool internal;
	bool faulted;
	struct fault_action act;
	bool too_big;
	struct ehttp *envd;     /* an envd request's state; NULL otherwise */
	bool is_envd;
	struct buf body;        /* the upload, capped at MAX_BODY */
	int status;             /* what was answered, for the log; 0: dropped */
	char method[16];
	char path[256];
};

/* ---- responses -------------------------------------------------------- */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	size_t n = fault_stream_read(cls, (size_t)pos, buf, max);

	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_free(void *cls)
{
	fault_stream_free(cls);
}

/* Queues a response; takes ownership of `data` (malloc'd or NULL) or, if
 * not NULL, of `fs`, a body made as it is sent. */
static enum MHD_Result send_raw(struct MHD_Connection *conn, struct req_ctx *rc, int status,
				char *data, size_t len, struct fault_stream *fs, const char *ctype,
				const char *hdr_name, const char *hdr_value)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (fs)
		resp = MHD_create_response_from_callback(fault_stream_len(fs), 64 * 1024,
							 stream_read, fs, stream_free);
	else if (data)
		resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(data);
		fault_stream_free(fs);
		return MHD_NO;
	}
	if ((data || fs) && ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (hdr_name)
		MHD_add_response_header(resp, hdr_name, hdr_value);
	rc->status = status;
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct req_ctx *rc,
				  struct reply *rp)
{
	char *text = NULL;

	if (rp->json) {
		text = json_dumps(rp->json, JSON_COMPACT);
		json_decref(rp->json);
		rp->json = NULL;
		if (!text)
			return MHD_NO;
	}
	return send_raw(conn, rc, rp->status, text, text ? strlen(text) : 0, NULL,
			"application/json", rp->hdr_name, rp->hdr_value);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, struct req_ctx *rc,
				  int status, const char *msg)
{
	struct reply rp = { 0 };

	reply_error(&rp, status, "%s", msg);
	return send_reply(conn, rc, &rp);
}

/* ---- request steps ---------------------------------------------------- */

/* The request line is in: the request's context starts here (it becomes
 * the request's *con_cls), and with it the deadline for the rest. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct sbxd *s = cls;
	struct req_ctx *rc = calloc(1, sizeof(*rc));
	const union MHD_ConnectionInfo *ci;

	(void)uri;
	if (!rc)
		return NULL;
	rc->t0 = clock_mono_ns();
	buf_init(&rc->body, MAX_BODY);
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	rc->conn = ci ? ci->socket_context : NULL;
	rc->refuse = !conns_request_begun(s->conns, rc->conn);
	return rc;
}

static enum MHD_Result send_overloaded(struct MHD_Connection *conn, struct req_ctx *rc)
{
	struct reply rp = { 0 };
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text;

	reply_error(&rp, 503, "server busy: too many connections; retry later");
	text = rp.json ? json_dumps(rp.json, JSON_COMPACT) : NULL;
	json_decref(rp.json);
	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	/* Frees the connection for someone else once the reply is out. */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	rc->status = 503;
	ret = MHD_queue_response(conn, 503, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result first_call(struct sbxd *s, struct MHD_Connection *conn,
				  const char *url, const char *method, struct req_ctx *rc)
{
	char key[128];

	rc->begun = true;
	snprintf(rc->method, sizeof(rc->method), "%s", method);
	snprintf(rc->path, sizeof(rc->path), "%s", url);
	/* The path is already %-decoded: keep forged newlines out of the log. */
	for (char *p = rc->path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (rc->refuse)
		return send_overloaded(conn, rc);
	if (ehttp_claim(conn, key)) {
		/* Streamed bodies of any size: no request deadline, no cap. */
		rc->is_envd = true;
		stats_count_envd(s->api.stats, method, url);
		conns_request_streaming(s->conns, rc->conn);
		return ehttp_begin(s->envd, s->api.faults, conn, url, method, key, &rc->envd,
				   &rc->status);
	}
	router_match(url, &rc->m);
	rc->internal = router_is_internal(url);
	if (!rc->internal) {
		handlers_stats_key(method, rc->m.id, key, sizeof(key));
		stats_count(s->api.stats, key);
		/* Decided before anything runs, so a faulted request never
		 * changes state. */
		if (s->api.faults)
			rc->faulted = faults_decide(s->api.faults, url, &rc->act);
	}
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *ex = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
	unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;

	/* An oversize body is read, dropped and answered at its end: an early
	 * answer closes with it unread, and the client may get a reset instead
	 * of the 413.  Not when nothing is in flight (100-continue) or huge. */
	rc->too_big = len > MAX_BODY;
	if (rc->too_big && ((ex && !strcasecmp(ex, "100-continue")) || len > MAX_DISCARD))
		return send_error(conn, rc, 413, "request body exceeds 1 MiB");
	return MHD_YES;
}

/* Appends upload data, discarding (never buffering) past the cap. */
static void take_upload(struct req_ctx *rc, const char *data, size_t n)
{
	if (rc->too_big)
		return;
	/* Past the cap buf frees what it held; out of memory it keeps it.
	 * Either way the request is answered 413, as before. */
	if (buf_append(&rc->body, data, n) < 0)
		rc->too_big = true;
}

/* Applies the request's fault.  Returns false when the request should
 * then be served normally (latency only), else true with *ret set.  The
 * latency suspends the connection (MHD_YES) and this runs again when the
 * timer resumes it; no thread waits. */
static bool answer_fault(struct sbxd *s, struct MHD_Connection *conn, struct req_ctx *rc,
			 const char *url, const char *method, enum MHD_Result *ret)
{
	struct fault_reply fr;
	char retry[32];

	if (rc->act.latency_ms && !rc->delayed) {
		rc->delayed = true;
		*ret = MHD_YES;
		/* The URL, for on_completed should the client give up first. */
		if ((rc->url = strdup(url)) && conns_delay(s->conns, conn, rc->act.latency_ms))
			return true;
		/* Draining at shutdown: answer at once. */
	}
	if (!rc->act.status && rc->act.body == FAULT_BODY_NONE)
		return false;
	*ret = MHD_NO;          /* MHD_NO closes the connection unanswered */
	if (rc->act.body == FAULT_BODY_DROP)
		return true;
	if (fault_render(&rc->act, router_is_list(method, rc->m.id), &fr) < 0)
		return true;
	snprintf(retry, sizeof(retry), "%ld", rc->act.retry_after);
	if (fr.hdr_name)
		*ret = send_raw(conn, rc, fr.status, fr.data, fr.len, fr.stream, fr.content_type,
				fr.hdr_name, fr.hdr_value);
	else
		*ret = send_raw(conn, rc, fr.status, fr.data, fr.len, fr.stream, fr.content_type,
				rc->act.retry_after >= 0 ? MHD_HTTP_HEADER_RETRY_AFTER : NULL,
				retry);
	return true;
}

/* Authenticates and runs the handler, filling *rp. */
static void serve(struct sbxd *s, struct MHD_Connection *conn, struct req_ctx *rc,
		  const char *url, const char *method, struct reply *rp)
{
	rc->served = true;
	if (rc->m.id != RT_HEALTH) {
		const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-API-Key");

		if (!auth_check(s->auth, key)) {
			reply_error(rp, 401, "%s", key ? "invalid API key"
							: "missing X-API-Key header");
			return;
		}
	}
	struct request rq = { method, url, conn, rc->body.data ? rc->body.data : "",
			      rc->body.len, &rc->m };
	handlers_dispatch(&s->api, &rq, rp);
}

static enum MHD_Result last_call(struct sbxd *s, struct MHD_Connection *conn,
				 struct req_ctx *rc, const char *url, const char *method)
{
	if (rc->too_big)
		return send_error(conn, rc, 413, "request body exceeds 1 MiB");
	enum MHD_Result ret;
	struct reply rp = { 0 };

	conns_request_read(s->conns, rc->conn);
	if (rc->faulted && answer_fault(s, conn, rc, url, method, &ret))
		return ret;
	serve(s, conn, rc, url, method, &rp);
	return send_reply(conn, rc, &rp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct sbxd *s = cls;
	struct req_ctx *rc = *con_cls;

	(void)version;
	if (!rc)                /* no memory for it in on_uri */
		return MHD_NO;
	if (!rc->begun)
		return first_call(s, conn, url, method, rc);
	if (rc->status)         /* answered early (413, envd errors) */
		return MHD_YES;
	if (rc->is_envd) {
		if (*upload_data_size == 0)
			conns_request_read(s->conns, rc->conn);
		return ehttp_step(rc->envd, conn, upload_data, upload_data_size, &rc->status);
	}
	if (*upload_data_size) {
		take_upload(rc, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return last_call(s, conn, rc, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct sbxd *s = cls;
	struct req_ctx *rc = *con_cls;

	if (!rc)
		return;
	conns_request_done(s->conns, rc->conn);
	/* A client that gave up while its reply was delayed still gets the
	 * work done, as from any slow server (and as when the delay slept
	 * in a thread): tests of client timeouts rely on it. */
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && rc->url && !rc->served &&
	    !rc->act.status && rc->act.body == FAULT_BODY_NONE) {
		struct reply rp = { 0 };

		serve(s, conn, rc, rc->url, rc->method, &rp);
		json_decref(rp.json);
	}
	/* The path only: query strings can be long, and never hold the key. */
	if (rc->status)
		slog_info(&s->log, "%s %s %d %.1f ms", rc->method, rc->path, rc->status,
			  (double)(clock_mono_ns() - rc->t0) / 1e6);
	else
		slog_info(&s->log, "%s %s dropped %.1f ms", rc->method, rc->path,
			  (double)(clock_mono_ns() - rc->t0) / 1e6);
	free(rc->url);
	ehttp_free(rc->envd);
	buf_release(&rc->body);
	free(rc);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct sbxd *s = cls;
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	slog_debug(&s->log, "httpd: %s", msg);
}

/* ---- library entry points --------------------------------------------- */

static int load_parts(struct sbxd *s, const struct sbxd_config *cfg, char **err)
{
	size_t nkeys;
	const char *const *keys = handlers_route_keys(&nkeys);
	char *msg = NULL;
	int rc;

	s->auth = auth_new(cfg->api_key);
	s->api.tpl = tpl_store_new();
	s->api.reg = reg_new(s->api.max_sandboxes);
	s->api.stats = stats_new(keys, nkeys);
	s->api.faults = cfg->faults ? faults_new() : NULL;
	s->api.logs = sbxlog_new();
	s->envd = envd_new(s->api.reg, &s->log, s->api.logs);
	s->api.usage = envd_usage;
	s->api.usage_ctx = s->envd;
	if (!s->auth || !s->api.tpl || !s->api.reg || !s->api.stats || !s->envd || !s->api.logs ||
	    (cfg->faults && !s->api.faults)) {
		set_err(err, "out of memory");
		return -ENOMEM;
	}
	if (s->templates_file && (rc = tpl_store_load(s->api.tpl, s->templates_file, &msg)) < 0) {
		set_err(err, "templates: %s", msg ? msg : strerror(-rc));
		free(msg);
		return rc;
	}
	if (s->state_dir && mkdir(s->state_dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		set_err(err, "state dir %s: %s", s->state_dir, strerror(-rc));
		return rc;
	}
	if (s->state_dir) {
		int kept = 0;

		s->persist = persist_open(s->api.reg, s->state_dir, clock_wall_ms(), &s->log, &kept, &msg);
		if (!s->persist) {
			set_err(err, "state: %s", msg ? msg : "out of memory");
			free(msg);
			return -EIO;
		}
		if (kept > 0)
			slog_info(&s->log, "restored %d sandbox(es) from %s", kept, s->state_dir);
	}
	/* After the state, whose errors say more about a bad state dir. */
	if ((rc = boxes_open_runtime(&s->api, cfg, s->state_dir, err)) < 0)
		return rc;
	s->rt = s->api.rt;
	envd_use_runtime(s->envd, s->rt);
	reg_set_expired(s->api.reg, boxes_expired, &s->api);
	boxes_restore(&s->api);
	return 0;
}

/* Fits the connections into the descriptor limit, saying so when it is
 * too small for them. */
static void fit_fd_limit(struct sbxd *s)
{
	unsigned fit = conns_fit_fd_limit(s->max_connections);

	if (fit < s->max_connections) {
		slog_warn(&s->log, "the descriptor limit allows only %u connections", fit);
		s->max_connections = fit;
	}
}

static int start_threads(struct sbxd *s, int fd, char **err)
{
	struct conns_config cc = { s->max_connections, s->max_per_ip, s->request_timeout,
				   s->idle_timeout };

	/* The journal first: no expiry may apply without being committed. */
	if (!s->persist || persist_start(s->persist) == 0)
		s->life = lifecycle_start(s->api.reg, &s->log);
	s->conns = conns_new(&cc, s->api.stats);
	if (!s->life || !s->conns || conns_start(s->conns) < 0) {
		set_err(err, "cannot start threads");
		return -EAGAIN;
	}
	s->mhd = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
				  MHD_USE_ERROR_LOG,
				  0, NULL, NULL, on_request, s,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_THREAD_POOL_SIZE, s->threads,
				  MHD_OPTION_CONNECTION_LIMIT, conns_hard_limit(s->max_connections),
				  MHD_OPTION_CONNECTION_TIMEOUT, s->idle_timeout,
				  MHD_OPTION_NOTIFY_CONNECTION, conns_notify, s->conns,
				  MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				  MHD_OPTION_END);
	if (!s->mhd) {
		set_err(err, "cannot start the HTTP server");
		return -EIO;
	}
	return 0;
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

static void set_limits(struct sbxd *s, const struct sbxd_config *cfg)
{
	s->api.max_sandboxes = or_default(cfg->max_sandboxes, 1000);
	s->api.max_timeout = or_default(cfg->max_timeout, 86400);
	s->api.default_timeout = or_default(cfg->default_timeout, 300);
	if (s->api.default_timeout > s->api.max_timeout)
		s->api.default_timeout = s->api.max_timeout;
	s->threads = or_default(cfg->threads, 8);
	s->max_connections = or_default(cfg->max_connections, 4096);
	s->max_per_ip = or_default(cfg->max_per_ip, 256);
	s->request_timeout = or_default(cfg->request_timeout, 10);
	s->idle_timeout = or_default(cfg->idle_timeout, 60);
}

static int open_listener(struct sbxd *s, const struct sbxd_config *cfg, char **err)
{
	if (cfg->listen_fd >= 0)
		return cfg->listen_fd;
	if (cfg->unix_path) {
		int fd = listen_unix(cfg->unix_path, 1024, err);

		if (fd >= 0 && !(s->unix_path = strdup(cfg->unix_path))) {
			unlink(cfg->unix_path);
			close(fd);
			set_err(err, "out of memory");
			return -ENOMEM;
		}
		return fd;
	}
	return listen_tcp(cfg->host ? cfg->host : "127.0.0.1", cfg->port, cfg->allow_remote,
			  1024, err);
}

struct sbxd *sbxd_start(const struct sbxd_config *cfg, char **err)
{
	struct sbxd *s = calloc(1, sizeof(*s));
	int fd = cfg->listen_fd;
	char addr[200];

	if (err)
		*err = NULL;
	if (!s) {
		set_err(err, "out of memory");
		return NULL;
	}
	s->log = (struct slog){ cfg->log, cfg->log_ctx, cfg->log_level };
	s->api.log = &s->log;
	set_limits(s, cfg);
	s->templates_file = cfg->templates_file ? strdup(cfg->templates_file) : NULL;
	s->state_dir = cfg->state_dir ? strdup(cfg->state_dir) : NULL;
	if (!cfg->api_key || !*cfg->api_key) {
		set_err(err, "an API key is required");
		goto fail;
	}
	if (load_parts(s, cfg, err) < 0)
		goto fail;
	if ((fd = open_listener(s, cfg, err)) < 0)
		goto fail;
	fit_fd_limit(s);
	s->port = listen_describe(fd, addr, sizeof(addr));
	if (start_threads(s, fd, err) < 0)
		goto fail;
	slog_info(&s->log, "sbxd listening on %s", addr);
	return s;
fail:
	/* The socket is ours from the call on (a caller's listen_fd too):
	 * MHD closes it once started, we close it on any failure. */
	if (fd >= 0 && !s->mhd)
		close(fd);
	sbxd_stop(s);
	return NULL;
}

uint16_t sbxd_port(const struct sbxd *s)
{
	return s->port;
}

int sbxd_reload(struct sbxd *s, const char *new_api_key)
{
	char *msg = NULL;
	int rc = 0;

	if (new_api_key && (rc = auth_set(s->auth, new_api_key)) < 0)
		return rc;
	if (s->templates_file) {
		rc = tpl_store_load(s->api.tpl, s->templates_file, &msg);
		if (rc < 0)
			slog_error(&s->log, "reloading templates: %s", msg ? msg : strerror(-rc));
		free(msg);
	}
	return rc;
}

void sbxd_stop(struct sbxd *s)
{
	if (!s)
		return;
	/* Order: no new requests, no more expiries, then the database (every
	 * change is already committed).  The daemon must hold no suspended
	 * connection when it stops. */
	envd_shutdown(s->envd);
	conns_drain(s->conns);
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	conns_free(s->conns);
	envd_free(s->envd);
	sbxlog_free(s->api.logs);
	if (s->unix_path)
		unlink(s->unix_path);
	free(s->unix_path);
	lifecycle_stop(s->life);
	/* Every process of every sandbox ends; the roots stay for a restart. */
	rt_free(s->rt);
	persist_close(s->persist);
	reg_free(s->api.reg);
	stats_free(s->api.stats);
	faults_free(s->api.faults);
	tpl_store_free(s->api.tpl);
	auth_free(s->auth);
	free(s->templates_file);
	free(s->state_dir);
	free(s);
}
