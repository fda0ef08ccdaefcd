/* envd over microhttpd; see envd_http.h. */
#include "http/envd_http.h"

#include "api/faults.h"
#include "envd/stream.h"
#include "http/server.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ehttp {
	struct envd_call *call;
	bool failed;                    /* the body is being discarded */
	long long cut_left;             /* body bytes to take before a cut; -1 */
};

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

bool ehttp_claim(struct MHD_Connection *conn, char id[65])
{
	return envd_route(header(conn, "E2b-Sandbox-Id"), header(conn, "Novita-Sandbox-Id"),
			  header(conn, MHD_HTTP_HEADER_HOST), id);
}

/* A query argument, or NULL; *bad when it holds a NUL. */
static const char *query(struct MHD_Connection *c, const char *key, bool *bad)
{
	const char *v = NULL;
	size_t n = 0;

	if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v, &n) !=
	    MHD_YES)
		return NULL;
	if (v && strlen(v) != n)
		*bad = true;
	return v;
}

/* A server stream's response: its reader suspends the connection while
 * nothing is queued and the producer resumes it (stream.h). */
struct sresp {
	struct estream *s;
	struct MHD_Connection *conn;
};

static void park(void *ctx)
{
	MHD_suspend_connection(((struct sresp *)ctx)->conn);
}

static void unpark(void *ctx)
{
	MHD_resume_connection(((struct sresp *)ctx)->conn);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	long n = estream_read(((struct sresp *)cls)->s, buf, max, park, unpark, cls);

	(void)pos;
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct sresp *sr = cls;

	/* The connection is closing: tell the producer, never resume it. */
	estream_drop(sr->s, false);
	estream_unref(sr->s);
	free(sr);
}

static struct MHD_Response *stream_response(struct MHD_Connection *conn, struct envd_out *o)
{
	struct sresp *sr = malloc(sizeof(*sr));
	struct MHD_Response *r;

	if (!sr)
		return NULL;
	sr->s = o->stream;
	sr->conn = conn;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, sr,
					      stream_free);
	if (!r)
		free(sr);
	else
		o->stream = NULL;       /* the response owns the reference */
	return r;
}

/* A file's download under the cut fault: its first `left` bytes, then
 * the connection closes mid-body (a connection lost mid-download). */
struct cutresp {
	int fd;
	uint64_t off;
	long long left;
};

static ssize_t cut_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct cutresp *c = cls;
	ssize_t n;

	if (c->left <= 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if ((unsigned long long)max > (unsigned long long)c->left)
		max = (size_t)c->left;
	n = pread(c->fd, buf, max, (off_t)(c->off + pos));
	if (n <= 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	c->left -= n;
	return n;
}

static void cut_free(void *cls)
{
	struct cutresp *c = cls;

	close(c->fd);
	free(c);
}

static struct MHD_Response *cut_response(struct envd_out *o, long long cut)
{
	struct cutresp *c = malloc(sizeof(*c));
	struct MHD_Response *r;

	if (!c)
		return NULL;
	*c = (struct cutresp){ o->fd, o->off, cut };
	r = MHD_create_response_from_callback(o->len, 64 * 1024, cut_read, c, cut_free);
	if (!r)
		free(c);
	return r;
}

/* Sends o; cut >= 0: a file's body is cut after that many bytes. */
static enum MHD_Result send_out(struct MHD_Connection *conn, struct envd_out *o, long long cut,
				int *status)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (o->fd >= 0 && o->len == 0)
		envd_out_release(o);
	if (o->stream)
		r = stream_response(conn, o);
	else if (o->fd >= 0 && cut >= 0 && (unsigned long long)cut < o->len)
		r = cut_response(o, cut);
	else if (o->fd >= 0)
		r = MHD_create_response_from_fd_at_offset64(o->len, o->fd, o->off);
	else if (o->body)
		r = MHD_create_response_from_buffer(o->len, o->body, MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!r) {
		envd_out_release(o);
		return MHD_NO;
	}
	/* The response owns the body or descriptor now. */
	o->body = NULL;
	o->fd = -1;
	if (o->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, o->content_type);
	for (int i = 0; i < o->nhdr; i++)
		MHD_add_response_header(r, o->hdr[i].name, o->hdr[i].value);
	*status = o->status;
	ret = MHD_queue_response(conn, (unsigned)o->status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result ehttp_begin(struct envd *e, struct faults *faults, struct MHD_Connection *conn,
			    const char *url, const char *method, const char *id,
			    struct ehttp **h, int *status)
{
	struct fault_action act;
	bool bad = false;
	struct envd_in in = {
		.method = method, .path = url, .sandbox_id = id,
		.access_token = header(conn, "X-Access-Token"),
		.authorization = header(conn, MHD_HTTP_HEADER_AUTHORIZATION),
		.content_type = header(conn, MHD_HTTP_HEADER_CONTENT_TYPE),
		.content_encoding = header(conn, MHD_HTTP_HEADER_CONTENT_ENCODING),
		.content_length = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH),
		.range = header(conn, MHD_HTTP_HEADER_RANGE),
		.q_path = query(conn, "path", &bad),
		.q_username = query(conn, "username", &bad),
		.keepalive = header(conn, "Keepalive-Ping-Interval"),
		.timeout_ms = header(conn, "Connect-Timeout-Ms"),
	};
	struct envd_out out = { .fd = -1 };

	*h = NULL;
	in.bad_query = bad;
	long long cut = faults && faults_decide_envd(faults, url, &act) ? act.cut_after : -1;
	struct envd_call *c = envd_begin(e, &in, &out);

	if (!c)   /* answered at once: a download, or an error */
		return send_out(conn, &out, cut, status);
	if (!(*h = calloc(1, sizeof(**h)))) {
		envd_call_free(c);
		return MHD_NO;
	}
	(*h)->call = c;
	(*h)->cut_left = cut;
	return MHD_YES;
}

enum MHD_Result ehttp_step(struct ehttp *h, struct MHD_Connection *conn, const char *data,
			   size_t *size, int *status)
{
	struct envd_out out;

	if (*size && h->cut_left >= 0 && (unsigned long long)h->cut_left < *size) {
		/* The fault: what fits, then the connection closes with no
		 * reply; the call is freed with it (an upload's temporary
		 * file removed). */
		if (!h->failed && h->cut_left > 0)
			envd_body(h->call, data, (size_t)h->cut_left);
		return MHD_NO;
	}
	if (*size && h->cut_left >= 0)
		h->cut_left -= (long long)*size;
	if (*size) {
		/* After a failure the rest is read and dropped, so the
		 * client sees the error rather than a reset. */
		if (!h->failed && envd_body(h->call, data, *size) < 0)
			h->failed = true;
		*size = 0;
		return MHD_YES;
	}
	envd_end(h->call, &out);
	return send_out(conn, &out, h->cut_left, status);
}

void ehttp_free(struct ehttp *h)
{
	if (!h)
		return;
	envd_call_free(h->call);
	free(h);
}

struct envd *sbxd_envd(struct sbxd *s)
{
	return s->envd;
}
