/* envd's backend on the runtime (runtime.h): the one place envd's seam
 * meets rt_*.  Tests may give envd another backend; sbxd gives it this. */
#include "envd/envd.h"

#include "runtime/runtime.h"

static int be_root_open(void *ctx, const char *id)
{
	return rt_root_open(ctx, id);
}

static int be_user(void *ctx, const char *id, const char *user, uid_t *uid, gid_t *gid,
		   const char **home)
{
	return rt_user(ctx, id, user, uid, gid, home);
}

static int be_exec(void *ctx, const char *id, const struct rt_exec_spec *spec,
		   struct rt_proc **out, char *err, size_t errlen)
{
	return rt_exec(ctx, id, spec, out, err, errlen);
}

static int be_usage(void *ctx, const char *id, struct rt_usage *u)
{
	return rt_usage(ctx, id, u);
}

static const struct envd_proc_ops rt_ops = {
	rt_proc_pid, rt_proc_stdin, rt_proc_stdout, rt_proc_stderr, rt_proc_pty,
	rt_proc_close_stdin, rt_proc_signal, rt_proc_resize, rt_proc_exit_fd,
	rt_proc_status, rt_proc_free,
};

void envd_backend_rt(struct rt *rt, struct envd_backend *out)
{
	bool procs = rt_kind(rt) == RT_BWRAP;

	*out = (struct envd_backend){ be_root_open, be_user, procs ? be_exec : NULL,
				      procs ? &rt_ops : NULL, rt, be_usage };
}

void envd_use_runtime(struct envd *e, struct rt *rt)
{
	struct envd_backend be;

	envd_backend_rt(rt, &be);
	envd_set_backend(e, &be);
}
