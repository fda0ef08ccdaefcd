/* The process.Process service: Start and Connect (server streams), List,
 * SendInput, SendSignal, CloseStdin, Update; on the backend's exec and
 * envd's process table (proc.h). */
#include "common/b64.h"
#include "envd/connect.h"
#include "envd/path.h"
#include "envd/priv.h"
#include "envd/proc.h"
#include "envd/stream.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 4096
#define MAX_ENVS 1024
#define INPUT_MAX_BYTES (1u << 20)

static bool plain_string(const json_t *v)
{
	return json_is_string(v) && !memchr(json_string_value(v), '\0', json_string_length(v));
}

/* Checks ProcessConfig and builds argv (caller frees the array only). */
static const char *check_config(const json_t *pc, const char ***argv)
{
	const json_t *args = json_object_get(pc, "args"), *envs = json_object_get(pc, "envs");
	const json_t *cwd = json_object_get(pc, "cwd"), *v;
	const char *k;
	size_t i;

	if (!json_is_object(pc) || !plain_string(json_object_get(pc, "cmd")) ||
	    !json_string_length(json_object_get(pc, "cmd")))
		return "process.cmd is required";
	if ((args && !json_is_array(args)) || json_array_size(args) > MAX_ARGS)
		return "process.args must be an array of at most 4096 strings";
	json_array_foreach(args, i, v)
		if (!plain_string(v))
			return "process.args must hold strings";
	if ((envs && !json_is_object(envs)) || json_object_size(envs) > MAX_ENVS)
		return "process.envs must be an object of at most 1024 strings";
	json_object_foreach((json_t *)envs, k, v)
		if (!plain_string(v) || !*k || strchr(k, '='))
			return "process.envs must map names to strings";
	if (cwd && !plain_string(cwd))
		return "process.cwd must be a string";
	if (!(*argv = calloc(json_array_size(args) + 2, sizeof(**argv))))
		return "out of memory";
	(*argv)[0] = json_string_value(json_object_get(pc, "cmd"));
	json_array_foreach(args, i, v)
		(*argv)[i + 1] = json_string_value(v);
	return NULL;
}

/* The cwd in the sandbox, which must be a directory.  NULL: the home. */
static int resolve_cwd(const struct envd_box *b, const json_t *cwd, char *out, size_t len)
{
	int fd, rc;

	if (!cwd)
		return 1;
	rc = ep_expand(json_string_value(cwd), json_string_length(cwd), b->home, out, len);
	if (rc < 0)
		return rc;
	fd = ep_open(b->root, out, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static void pty_size(const json_t *pty, struct rt_exec_spec *spec)
{
	const json_t *size = json_object_get(pty, "size");
	json_int_t c = json_integer_value(json_object_get(size, "cols"));
	json_int_t r = json_integer_value(json_object_get(size, "rows"));

	spec->pty = true;
	spec->cols = (unsigned short)(c >= 1 && c <= 1000 ? c : 80);
	spec->rows = (unsigned short)(r >= 1 && r <= 1000 ? r : 24);
}

/* ProcessConfig as List reports it. */
static json_t *list_config(const json_t *pc, const char *cwd)
{
	json_t *args = json_object_get(pc, "args"), *envs = json_object_get(pc, "envs");
	/* Copies only: the table outlives the request, on other threads. */
	json_t *o = json_pack("{s:s, s:o, s:o}", "cmd",
			      json_string_value(json_object_get(pc, "cmd")),
			      "args", args ? json_deep_copy(args) : json_array(),
			      "envs", envs ? json_deep_copy(envs) : json_object());

	if (o && cwd)
		json_object_set_new(o, "cwd", json_string(cwd));
	return o;
}

static const char *exec_code(int rc)
{
	return rc == -EAGAIN ? "resource_exhausted" : rc == -EOPNOTSUPP ? "unimplemented"
		: rc == -ENOENT ? "not_found" : "invalid_argument";
}

/* Runs the process and hands it to the table; the reply is its stream. */
static void start_checked(struct envd *e, const struct envd_box *b, const json_t *req,
			  const char **argv, const struct proc_stream *ps, struct envd_out *out)
{
	const json_t *pc = json_object_get(req, "process"), *pty = json_object_get(req, "pty");
	char cwd[PATH_MAX], err[256] = "";
	int rc = resolve_cwd(b, json_object_get(pc, "cwd"), cwd, sizeof(cwd));
	struct rt_exec_spec spec = { argv, json_object_get(pc, "envs"), rc == 0 ? cwd : NULL,
				     b->user, false, 0, 0 };
	struct proc_start st = { b->id, NULL, b->be.proc, NULL,
				 json_string_value(json_object_get(req, "tag")), false,
				 !json_is_false(json_object_get(req, "stdin")), ps->deadline_ns };
	struct estream *s = NULL;

	if (rc < 0) {
		out_stream_error(out, "invalid_argument", "cwd '%s' does not exist",
				 json_string_value(json_object_get(pc, "cwd")));
		return;
	}
	if (pty && !json_is_null(pty))
		pty_size(pty, &spec);
	st.pty = spec.pty;
	if ((rc = envd_stream_begin(e, &s)) < 0) {
		out_stream_error(out, "resource_exhausted", "too many streams");
		return;
	}
	rc = b->be.exec(b->be.ctx, b->id, &spec, &st.p, err, sizeof(err));
	if (rc == 0 && !(st.config = list_config(pc, spec.cwd)))
		rc = -ENOMEM;
	/* The reply's reference before the pump, which may end the stream
	 * at once. */
	out_stream(out, s);
	if (rc == 0 && (rc = procs_add(envd_procs(e), &st, s, ps->keepalive_ms,
				       ps->deadline_ns)) == 0)
		return;
	envd_out_release(out);
	if (st.p) {
		b->be.proc->signal(st.p, SIGKILL);
		b->be.proc->free(st.p);
	}
	estream_end(s, NULL, NULL);
	envd_stream_done(e, s);
	out_stream_error(out, exec_code(rc), "cannot start %s: %s", argv[0],
			 *err ? err : rc == -EAGAIN ? "too many processes" : strerror(-rc));
}

void proc_start(struct envd *e, const struct envd_box *b, const json_t *req,
		const struct proc_stream *ps, struct envd_out *out)
{
	const char **argv = NULL;
	const char *bad;

	if (!b->be.exec || !b->be.proc) {
		out_stream_error(out, "unimplemented",
				 "this sandbox runs no processes (runtime without them)");
		return;
	}
	if ((bad = check_config(json_object_get(req, "process"), &argv))) {
		out_stream_error(out, "invalid_argument", "%s", bad);
		return;
	}
	if (json_object_get(req, "tag") && !plain_string(json_object_get(req, "tag")))
		out_stream_error(out, "invalid_argument", "tag must be a string");
	else
		start_checked(e, b, req, argv, ps, out);
	free(argv);
}

void proc_connect(struct envd *e, const struct envd_box *b, const json_t *req,
		  const struct proc_stream *ps, struct envd_out *out)
{
	struct eproc *p = procs_find(envd_procs(e), b->id, json_object_get(req, "process"));
	struct estream *s = NULL;
	int rc;

	if (!p) {
		out_stream_error(out, "not_found", "process not found");
		return;
	}
	if ((rc = envd_stream_begin(e, &s)) == 0) {
		out_stream(out, s);     /* before the pump can end it */
		if ((rc = eproc_attach(p, s, ps->keepalive_ms, ps->deadline_ns)) < 0) {
			envd_out_release(out);
			envd_stream_done(e, s);
		}
	}
	eproc_unref(p);
	if (rc == -ESRCH)
		out_stream_error(out, "not_found", "process ended");
	else if (rc < 0)
		out_stream_error(out, "resource_exhausted", "too many streams");
}

/* ---- unary methods ---- */

static struct eproc *find_or_reply(struct envd *e, const struct envd_box *b, const json_t *req,
				   struct envd_out *out)
{
	const json_t *sel = json_object_get(req, "process");
	struct eproc *p = procs_find(envd_procs(e), b->id, sel);

	if (!p)
		out_cx_error(out, "not_found", "process with %s not found",
			     json_object_get(sel, "tag") ? "that tag" : "that pid");
	return p;
}

static void send_input(struct eproc *p, const json_t *req, struct envd_out *out)
{
	const json_t *in = json_object_get(req, "input");
	const json_t *data = json_object_get(in, "pty");
	bool pty = data != NULL;
	char *buf;
	size_t n = 0;
	int rc;

	if (!data)
		data = json_object_get(in, "stdin");
	if (!json_is_string(data))
		return out_cx_error(out, "invalid_argument", "input.stdin or input.pty is required");
	if (!(buf = malloc(json_string_length(data) * 3 / 4 + 4)))
		return out_cx_error(out, "internal", "out of memory");
	rc = json_string_length(data) > INPUT_MAX_BYTES * 4 / 3 + 4 ? -E2BIG
		: b64_decode(json_string_value(data), json_string_length(data), buf,
				json_string_length(data) * 3 / 4 + 4, &n);
	if (rc == 0)
		rc = eproc_input(p, pty, buf, n);
	free(buf);
	if (rc == -EINVAL && n == 0 && json_string_length(data))
		out_cx_error(out, "invalid_argument", "input is not base64");
	else if (rc == -E2BIG)
		out_cx_error(out, "resource_exhausted", "input larger than 1 MiB");
	else if (rc < 0)
		out_cx_error(out, "internal", "error writing to %s: %s", pty ? "pty" : "stdin",
			     rc == -EPIPE ? "stdin is closed" : rc == -EINVAL ? "wrong kind of process"
			     : strerror(-rc));
	else
		out_json(out, 200, json_object());
}

static int signal_of(const json_t *v)
{
	const char *s = json_string_value(v);

	if (json_is_integer(v))
		return json_integer_value(v) == 9 ? SIGKILL : json_integer_value(v) == 15 ? SIGTERM : 0;
	if (s && !strcmp(s, "SIGNAL_SIGKILL"))
		return SIGKILL;
	if (s && !strcmp(s, "SIGNAL_SIGTERM"))
		return SIGTERM;
	return 0;
}

static void other_unary(struct eproc *p, const char *name, const json_t *req,
			struct envd_out *out)
{
	int rc = 0;

	if (!strcmp(name, "SendSignal")) {
		int sig = signal_of(json_object_get(req, "signal"));

		if (!sig)
			return out_cx_error(out, "unimplemented", "only SIGTERM and SIGKILL");
		rc = eproc_signal(p, sig);
	} else if (!strcmp(name, "CloseStdin")) {
		if ((rc = eproc_close_stdin(p)) == -EINVAL)
			return out_cx_error(out, "unknown", "cannot close stdin for PTY process");
	} else {        /* Update */
		const json_t *size = json_object_get(json_object_get(req, "pty"), "size");
		json_int_t c = json_integer_value(json_object_get(size, "cols"));
		json_int_t r = json_integer_value(json_object_get(size, "rows"));

		if (!size)
			return out_json(out, 200, json_object());
		if (c < 1 || c > 1000 || r < 1 || r > 1000)
			return out_cx_error(out, "invalid_argument", "pty size must be 1..1000");
		if ((rc = eproc_resize(p, (unsigned)c, (unsigned)r)) == -EINVAL)
			return out_cx_error(out, "internal", "error resizing tty: not a PTY process");
	}
	if (rc < 0)
		return out_cx_error(out, rc == -ESRCH ? "not_found" : "internal", "%s: %s", name,
				    strerror(-rc));
	out_json(out, 200, json_object());
}

bool proc_unary(struct envd *e, const struct envd_box *b, const char *name, const json_t *req,
		struct envd_out *out)
{
	struct eproc *p;

	if (!strcmp(name, "List")) {
		out_json(out, 200, json_pack("{s:o}", "processes", procs_list(envd_procs(e), b->id)));
		return true;
	}
	if (strcmp(name, "SendInput") && strcmp(name, "SendSignal") && strcmp(name, "CloseStdin") &&
	    strcmp(name, "Update"))
		return false;
	if (!(p = find_or_reply(e, b, req, out)))
		return true;
	if (!strcmp(name, "SendInput"))
		send_input(p, req, out);
	else
		other_unary(p, name, req, out);
	eproc_unref(p);
	return true;
}
