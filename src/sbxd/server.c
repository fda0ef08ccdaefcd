/* HTTP plumbing and the library entry points (sbxd.h).
 *
 * libmicrohttpd runs one thread per connection, so requests held up by
 * injected latency never serialize others.  Each request is handled in
 * three steps: on its first callback it is routed, counted and has its
 * fault decided; the body is then collected (capped at 1 MiB); on the last
 * callback it is answered. */
#include "sbxd.h"

#include "faultbody.h"
#include "handlers.h"
#include "server.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_BODY (1u << 20)

struct req_ctx {
	double t0;
	struct route_match m;
	bool internal;
	bool faulted;
	struct fault_action act;
	bool too_big;
	char *body;
	size_t len, cap;
	int status;             /* what was answered, for the log; 0: dropped */
	char method[16];
	char path[256];
};

static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(char **err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
}

/* ---- responses -------------------------------------------------------- */

/* Queues a response; takes ownership of `data` (malloc'd or NULL). */
static enum MHD_Result send_raw(struct MHD_Connection *conn, struct req_ctx *rc, int status,
				char *data, size_t len, const char *ctype,
				const char *hdr_name, const char *hdr_value)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (data)
		resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	if (data && ctype)
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
	return send_raw(conn, rc, rp->status, text, text ? strlen(text) : 0,
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

static enum MHD_Result first_call(struct sbxd *s, struct MHD_Connection *conn,
				  const char *url, const char *method, void **con_cls)
{
	struct req_ctx *rc = calloc(1, sizeof(*rc));
	char key[128];

	if (!rc)
		return MHD_NO;
	*con_cls = rc;
	rc->t0 = util_mono_ms();
	snprintf(rc->method, sizeof(rc->method), "%s", method);
	snprintf(rc->path, sizeof(rc->path), "%s", url);
	/* The path is already %-decoded: keep forged newlines out of the log. */
	for (char *p = rc->path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	router_match(url, &rc->m);
	rc->internal = router_is_internal(url);
	if (!rc->internal) {
		handlers_stats_key(method, rc->m.id, key, sizeof(key));
		stats_count(s->stats, key);
		/* Decided before anything runs, so a faulted request never
		 * changes state. */
		if (s->faults)
			rc->faulted = faults_decide(s->faults, url, &rc->act);
	}
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > MAX_BODY) {
		/* Answer before reading the body; MHD then closes the
		 * connection instead of reading what follows. */
		rc->too_big = true;
		return send_error(conn, rc, 413, "request body exceeds 1 MiB");
	}
	return MHD_YES;
}

/* Appends upload data, discarding (never buffering) past the cap. */
static void take_upload(struct req_ctx *rc, const char *data, size_t n)
{
	if (rc->too_big)
		return;
	if (rc->len + n > MAX_BODY) {
		rc->too_big = true;
		free(rc->body);
		rc->body = NULL;
		rc->len = rc->cap = 0;
		return;
	}
	if (rc->len + n + 1 > rc->cap) {
		size_t cap = rc->cap ? rc->cap : 1024;
		char *b;

		while (cap < rc->len + n + 1)
			cap *= 2;
		b = realloc(rc->body, cap);
		if (!b) {
			rc->too_big = true;
			return;
		}
		rc->body = b;
		rc->cap = cap;
	}
	memcpy(rc->body + rc->len, data, n);
	rc->len += n;
	rc->body[rc->len] = '\0';
}

static bool list_route(const char *method, enum route_id id)
{
	return strcmp(method, "GET") == 0 && (id == RT_SANDBOXES || id == RT_V2_SANDBOXES ||
					      id == RT_TEMPLATES);
}

/* Applies the request's fault.  Returns false when the request should
 * then be served normally (latency only), else true with *ret set. */
static bool answer_fault(struct MHD_Connection *conn, struct req_ctx *rc,
			 const char *method, enum MHD_Result *ret)
{
	struct fault_reply fr;
	char retry[32];

	/* Sleeping holds no lock: only this connection's thread waits. */
	if (rc->act.latency_ms)
		util_sleep_ms(rc->act.latency_ms);
	if (!rc->act.status && rc->act.body == FAULT_BODY_NONE)
		return false;
	*ret = MHD_NO;          /* MHD_NO closes the connection unanswered */
	if (rc->act.body == FAULT_BODY_DROP)
		return true;
	if (fault_render(&rc->act, list_route(method, rc->m.id), &fr) < 0)
		return true;
	snprintf(retry, sizeof(retry), "%ld", rc->act.retry_after);
	*ret = send_raw(conn, rc, fr.status, fr.data, fr.len, fr.content_type,
			rc->act.retry_after >= 0 ? MHD_HTTP_HEADER_RETRY_AFTER : NULL, retry);
	return true;
}

static enum MHD_Result last_call(struct sbxd *s, struct MHD_Connection *conn,
				 struct req_ctx *rc, const char *url, const char *method)
{
	if (rc->too_big)
		return send_error(conn, rc, 413, "request body exceeds 1 MiB");
	enum MHD_Result ret;

	if (rc->faulted && answer_fault(conn, rc, method, &ret))
		return ret;
	if (rc->m.id != RT_HEALTH) {
		const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-API-Key");

		if (!auth_check(s->auth, key))
			return send_error(conn, rc, 401, key ? "invalid API key"
							     : "missing X-API-Key header");
	}
	struct request rq = { method, url, conn, rc->body ? rc->body : "", rc->len, &rc->m };
	struct reply rp = { 0 };
	handlers_dispatch(s, &rq, &rp);
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
	if (!rc)
		return first_call(s, conn, url, method, con_cls);
	if (rc->status)         /* answered early (413) */
		return MHD_YES;
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

	(void)conn;
	(void)toe;
	if (!rc)
		return;
	/* The path only: query strings can be long, and never hold the key. */
	if (rc->status)
		slog_info(&s->log, "%s %s %d %.1f ms", rc->method, rc->path, rc->status,
			  util_mono_ms() - rc->t0);
	else
		slog_info(&s->log, "%s %s dropped %.1f ms", rc->method, rc->path,
			  util_mono_ms() - rc->t0);
	free(rc->body);
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

/* ---- listening socket ------------------------------------------------- */

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/* Binds host:port with SO_REUSEADDR (so a restarted server gets its port
 * back at once) and listens.  Returns the fd or -errno with *err set. */
static int bind_listen(const char *host, uint16_t port, bool allow_remote, char **err)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char portstr[8];
	int fd = -1, e = 0;

	snprintf(portstr, sizeof(portstr), "%u", port);
	int gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai != 0) {
		set_err(err, "cannot resolve %s: %s", host, gai_strerror(gai));
		return -EINVAL;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (!allow_remote && !is_loopback(ai->ai_addr)) {
			set_err(err, "refusing to listen on non-loopback address %s "
				"(use --allow-remote)", host);
			freeaddrinfo(res);
			return -EPERM;
		}
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		set_err(err, "cannot listen on %s:%u: %s", host, port, strerror(e));
		return -e;
	}
	return fd;
}

/* The bound port, and the address as a URL host ("[::1]" for IPv6). */
static uint16_t bound_addr(int fd, char *host, size_t hostlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char buf[INET6_ADDRSTRLEN] = "?";

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
		snprintf(host, hostlen, "%s", buf);
		return ntohs(in->sin_port);
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
		snprintf(host, hostlen, "[%s]", buf);
		return ntohs(in6->sin6_port);
	}
	return 0;
}

/* ---- library entry points --------------------------------------------- */

static int load_parts(struct sbxd *s, const struct sbxd_config *cfg, char **err)
{
	size_t nkeys;
	const char *const *keys = handlers_route_keys(&nkeys);
	char *msg = NULL;
	int rc;

	s->auth = auth_new(cfg->api_key);
	s->tpl = tpl_store_new();
	s->reg = reg_new(s->max_sandboxes);
	s->stats = stats_new(keys, nkeys);
	s->faults = cfg->faults ? faults_new() : NULL;
	if (!s->auth || !s->tpl || !s->reg || !s->stats || (cfg->faults && !s->faults)) {
		set_err(err, "out of memory");
		return -ENOMEM;
	}
	if (s->templates_file && (rc = tpl_store_load(s->tpl, s->templates_file, &msg)) < 0) {
		set_err(err, "templates: %s", msg ? msg : strerror(-rc));
		free(msg);
		return rc;
	}
	if (s->state_dir) {
		if (mkdir(s->state_dir, 0700) < 0 && errno != EEXIST) {
			rc = -errno;
			set_err(err, "state dir %s: %s", s->state_dir, strerror(-rc));
			return rc;
		}
		int kept = 0;

		s->persist = persist_open(s->reg, s->state_dir, util_now_ms(), &s->log, &kept, &msg);
		if (!s->persist) {
			set_err(err, "state: %s", msg ? msg : "out of memory");
			free(msg);
			return -EIO;
		}
		if (kept > 0)
			slog_info(&s->log, "restored %d sandbox(es) from %s", kept, s->state_dir);
	}
	return 0;
}

static int start_threads(struct sbxd *s, int fd, char **err)
{
	/* The journal first: no expiry may apply without being committed. */
	if (!s->persist || persist_start(s->persist) == 0)
		s->life = lifecycle_start(s->reg, &s->log);
	if (!s->life) {
		set_err(err, "cannot start threads");
		return -EAGAIN;
	}
	s->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
				  MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
				  MHD_USE_ERROR_LOG,
				  0, NULL, NULL, on_request, s,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
				  MHD_OPTION_END);
	if (!s->mhd) {
		set_err(err, "cannot start the HTTP server");
		return -EIO;
	}
	return 0;
}

struct sbxd *sbxd_start(const struct sbxd_config *cfg, char **err)
{
	struct sbxd *s = calloc(1, sizeof(*s));
	const char *host = cfg->host ? cfg->host : "127.0.0.1";
	int fd = cfg->listen_fd;
	char addr[INET6_ADDRSTRLEN + 2];

	if (err)
		*err = NULL;
	if (!s) {
		set_err(err, "out of memory");
		return NULL;
	}
	s->log = (struct slog){ cfg->log, cfg->log_ctx, cfg->log_level };
	s->max_sandboxes = cfg->max_sandboxes ? cfg->max_sandboxes : 1000;
	s->max_timeout = cfg->max_timeout ? cfg->max_timeout : 86400;
	s->default_timeout = cfg->default_timeout ? cfg->default_timeout : 300;
	if (s->default_timeout > s->max_timeout)
		s->default_timeout = s->max_timeout;
	s->templates_file = cfg->templates_file ? strdup(cfg->templates_file) : NULL;
	s->state_dir = cfg->state_dir ? strdup(cfg->state_dir) : NULL;
	if (!cfg->api_key || !*cfg->api_key) {
		set_err(err, "an API key is required");
		goto fail;
	}
	if (load_parts(s, cfg, err) < 0)
		goto fail;
	if (fd < 0 && (fd = bind_listen(host, cfg->port, cfg->allow_remote, err)) < 0)
		goto fail;
	s->port = bound_addr(fd, addr, sizeof(addr));
	if (start_threads(s, fd, err) < 0)
		goto fail;
	slog_info(&s->log, "sbxd listening on http://%s:%u", addr, s->port);
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
		rc = tpl_store_load(s->tpl, s->templates_file, &msg);
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
	 * change is already committed). */
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	lifecycle_stop(s->life);
	persist_close(s->persist);
	reg_free(s->reg);
	stats_free(s->stats);
	faults_free(s->faults);
	tpl_store_free(s->tpl);
	auth_free(s->auth);
	free(s->templates_file);
	free(s->state_dir);
	free(s);
}
