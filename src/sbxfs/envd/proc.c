/* The calls of envd's process service (proc.h): the two streams through
 * the decoder of envelope.c, the unary methods as Connect JSON. */
#include "common/b64.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "envd_priv.h"
#include "proc.h"

/* A List reply of this many bytes at most (envd holds at most some
 * hundreds of processes). */
#define LIST_BODY_MAX (8u * 1024 * 1024)
/* The most stdin one SendInput carries (envd's limit). */
#define INPUT_MAX (1u << 20)

struct stream_sink {
	struct envdc_dec dec;
	int err;                    /* the decoder's first error */
};

static int stream_write(const char *data, size_t len, void *ctx)
{
	struct stream_sink *s = ctx;
	int r = envdc_dec_feed(&s->dec, data, len);

	if (r != 0 && s->err == 0)
		s->err = r < 0 ? r : -ECANCELED;
	return r < 0 ? r : r > 0 ? -ECANCELED : 0;
}

/* The envelope of one request message (taken): 5 bytes and the JSON. */
static char *frame(json_t *msg, size_t *len)
{
	char *json = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	size_t n = json ? strlen(json) : 0;
	char *out = json ? malloc(n + 6) : NULL;

	json_decref(msg);
	if (out) {
		out[0] = 0;
		out[1] = (char)(n >> 24 & 0xff);
		out[2] = (char)(n >> 16 & 0xff);
		out[3] = (char)(n >> 8 & 0xff);
		out[4] = (char)(n & 0xff);
		memcpy(out + 5, json, n + 1);
		*len = n + 5;
	}
	free(json);
	return out;
}

static int run_stream(struct envdc *e, const struct envdc_target *t, const char *method,
		      json_t *req, const char *user, const int *cancel, envdc_event_fn fn,
		      void *ctx, struct envdc_error *err)
{
	char path[64], subject[32];
	struct stream_sink sk = { .err = 0 };
	struct http_sink sink = { stream_write, &sk };
	struct http_response rs;
	size_t blen = 0;
	char *body = frame(req, &blen);
	struct ecall c = {
		.op = method, .subject = subject, .method = "POST", .path = path,
		.body = body, .body_len = blen, .user = user,
		.content_type = "application/connect+json", .upload_fd = -1, .sink = &sink,
		.max_body = SIZE_MAX, .rc = HTTP_RETRY_ONCE, .rpc = true, .quiet = -EINTR,
		.stream = true, .cancel = cancel, .idle_s = ENVDC_STREAM_IDLE_S,
	};
	int r;

	memset(err, 0, sizeof(*err));
	if (body == NULL)
		return -ENOMEM;
	envdc_dec_init(&sk.dec, fn, ctx);
	snprintf(path, sizeof(path), "/process.Process/%s", method);
	snprintf(subject, sizeof(subject), "%s", t->id);
	r = envdc_call(e, t, &c, &rs, err);
	http_response_clear(&rs);
	free(body);
	if (sk.err)
		r = sk.err;
	else if (r == 0 && !sk.dec.ended)
		r = -ECONNRESET;
	else if (r == 0 && sk.dec.end_err) {
		r = sk.dec.end_err;
		snprintf(err->code, sizeof(err->code), "%s", sk.dec.end_code);
		snprintf(err->message, sizeof(err->message), "%s", sk.dec.end_msg);
	}
	if (r == -ECONNRESET)
		snprintf(err->message, sizeof(err->message), "stream ended without its end");
	envdc_dec_clear(&sk.dec);
	return r;
}

static json_t *start_request(const struct envdc_start *s)
{
	json_t *envs = json_object();
	json_t *proc = json_pack("{s:s, s:[s,s,s]}", "cmd", "/bin/bash", "args", "-l", "-c",
				 s->cmd);
	json_t *req = json_object();

	for (size_t i = 0; envs && i < s->n_env; i++) {
		const char *eq = strchr(s->env[i], '=');
		char *k = eq ? strndup(s->env[i], (size_t)(eq - s->env[i])) : NULL;

		if (k)
			json_object_set_new(envs, k, json_string(eq + 1));
		free(k);
	}
	if (!envs || !proc || !req) {
		json_decref(envs);
		json_decref(proc);
		json_decref(req);
		return NULL;
	}
	json_object_set_new(proc, "envs", envs);
	if (s->cwd)
		json_object_set_new(proc, "cwd", json_string(s->cwd));
	json_object_set_new(req, "process", proc);
	if (s->tag)
		json_object_set_new(req, "tag", json_string(s->tag));
	json_object_set_new(req, "stdin", json_true());
	return req;
}

int envdc_proc_start(struct envdc *e, const struct envdc_target *t,
		     const struct envdc_start *s, const int *cancel, envdc_event_fn fn,
		     void *ctx, struct envdc_error *err)
{
	json_t *req = start_request(s);

	if (req == NULL) {
		memset(err, 0, sizeof(*err));
		return -ENOMEM;
	}
	return run_stream(e, t, "Start", req, s->user, cancel, fn, ctx, err);
}

int envdc_proc_connect(struct envdc *e, const struct envdc_target *t, unsigned pid,
		       const int *cancel, envdc_event_fn fn, void *ctx,
		       struct envdc_error *err)
{
	json_t *req = json_pack("{s:{s:I}}", "process", "pid", (json_int_t)pid);

	if (req == NULL) {
		memset(err, 0, sizeof(*err));
		return -ENOMEM;
	}
	return run_stream(e, t, "Connect", req, NULL, cancel, fn, ctx, err);
}

/* A unary RPC of process.Process with body b (taken); *rs kept only when
 * out is wanted. */
static int unary(struct envdc *e, const struct envdc_target *t, const char *method, json_t *b,
		 enum http_retry_class rc, size_t max_body, struct http_response *rs,
		 struct envdc_error *err)
{
	char path[64], subject[32];
	char *body = b ? json_dumps(b, JSON_COMPACT) : NULL;
	struct ecall c = {
		.op = method, .subject = subject, .method = "POST", .path = path, .body = body,
		.content_type = "application/json", .upload_fd = -1, .max_body = max_body,
		.rc = rc, .rpc = true, .quiet = -ENOENT,
	};
	int r;

	json_decref(b);
	memset(rs, 0, sizeof(*rs));
	memset(err, 0, sizeof(*err));
	if (body == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/process.Process/%s", method);
	snprintf(subject, sizeof(subject), "%s", t->id);
	r = envdc_call(e, t, &c, rs, err);
	free(body);
	return r;
}

void envdc_pinfo_free(struct envdc_pinfo *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].tag);
		free(v[i].cmd);
	}
	free(v);
}

/* One entry of a List reply into *p: 0, -EPROTO, -ENOMEM. */
static int pinfo_of(json_t *o, struct envdc_pinfo *p)
{
	json_t *pid = json_object_get(o, "pid"), *tag = json_object_get(o, "tag");
	json_t *cfg = json_object_get(o, "config");
	json_t *args = json_object_get(cfg, "args");
	const char *cmd = json_string_value(json_object_get(cfg, "cmd"));
	size_t na = json_array_size(args);

	if (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
	    json_integer_value(pid) > UINT32_MAX || (tag && !json_is_string(tag) &&
						      !json_is_null(tag)))
		return -EPROTO;
	p->pid = (unsigned)json_integer_value(pid);
	if (na > 0 && json_is_string(json_array_get(args, na - 1)))
		cmd = json_string_value(json_array_get(args, na - 1));
	if ((json_is_string(tag) && !(p->tag = strdup(json_string_value(tag)))) ||
	    !(p->cmd = strdup(cmd ? cmd : "")))
		return -ENOMEM;
	return 0;
}

int envdc_proc_list(struct envdc *e, const struct envdc_target *t, struct envdc_pinfo **out,
		    size_t *n, struct envdc_error *err)
{
	struct http_response rs;
	int r = unary(e, t, "List", json_object(), HTTP_RETRY_IDEMPOTENT, LIST_BODY_MAX, &rs,
		      err);
	json_t *root = r == 0 ? json_loadb(rs.body ? rs.body : "", rs.len, 0, NULL) : NULL;
	json_t *procs = json_object_get(root, "processes");
	size_t k = json_array_size(procs);

	*out = NULL;
	*n = 0;
	if (r == 0 && (!json_is_object(root) || (procs && !json_is_array(procs))))
		r = -EPROTO;
	if (r == 0 && k && !(*out = calloc(k, sizeof(**out))))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < k; i++, (*n)++)
		r = pinfo_of(json_array_get(procs, i), &(*out)[i]);
	if (r < 0) {
		envdc_pinfo_free(*out, k);
		*out = NULL;
		*n = 0;
		if (r == -EPROTO)
			snprintf(err->message, sizeof(err->message), "bad List reply");
	}
	json_decref(root);
	http_response_clear(&rs);
	return r;
}

static int simple(struct envdc *e, const struct envdc_target *t, const char *method,
		  json_t *b, enum http_retry_class rc, struct envdc_error *err)
{
	struct http_response rs;
	int r = b ? unary(e, t, method, b, rc, 0, &rs, err) : -ENOMEM;

	if (b)
		http_response_clear(&rs);
	return r;
}

int envdc_proc_input(struct envdc *e, const struct envdc_target *t, unsigned pid,
		     const char *data, size_t len, struct envdc_error *err)
{
	char *b64;
	int r;

	memset(err, 0, sizeof(*err));
	if (len > INPUT_MAX)
		return -E2BIG;
	if ((b64 = b64_encode(data, len)) == NULL)
		return -ENOMEM;
	/* Not repeated after it may have arrived: the bytes would be twice. */
	r = simple(e, t, "SendInput", json_pack("{s:{s:I}, s:{s:s}}", "process", "pid",
						  (json_int_t)pid, "input", "stdin", b64),
		   HTTP_RETRY_UNPROCESSED, err);
	free(b64);
	return r;
}

int envdc_proc_signal(struct envdc *e, const struct envdc_target *t, unsigned pid, int sig,
		      struct envdc_error *err)
{
	memset(err, 0, sizeof(*err));
	if (sig != 9 && sig != 15)
		return -EINVAL;
	return simple(e, t, "SendSignal", json_pack("{s:{s:I}, s:s}", "process", "pid",
						    (json_int_t)pid, "signal",
						    sig == 9 ? "SIGNAL_SIGKILL" : "SIGNAL_SIGTERM"),
		      HTTP_RETRY_IDEMPOTENT, err);
}

int envdc_proc_close_stdin(struct envdc *e, const struct envdc_target *t, unsigned pid,
			   struct envdc_error *err)
{
	memset(err, 0, sizeof(*err));
	return simple(e, t, "CloseStdin", json_pack("{s:{s:I}}", "process", "pid",
						    (json_int_t)pid),
		      HTTP_RETRY_IDEMPOTENT, err);
}
