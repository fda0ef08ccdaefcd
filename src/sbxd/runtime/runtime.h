/* runtime/: what a sandbox is on this machine.  The registry decides what
 * should exist (records, timers, durability); a runtime makes it so: a root
 * directory and, with bwrap, an isolated process tree whose init (our own
 * small program) reaps children and starts what envd asks for.
 *
 * Three backends behind one table of functions, chosen per sbxd with
 * --runtime:
 *   record  no files, no processes (the record-only server of old);
 *   dir     a private root directory per sandbox, no processes;
 *   bwrap   bubblewrap namespaces, cgroup limits, init, processes.
 *
 * Every function is thread-safe and may block on the local machine (fork,
 * cgroup writes, removing a tree) but never on the network; callers must
 * not hold the registry lock across them.  Errors are -errno; where a
 * message helps the user, it goes to err (at most errlen bytes, always
 * NUL-terminated when errlen > 0). */
#ifndef SBXD_RUNTIME_H
#define SBXD_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum rt_kind { RT_RECORD, RT_DIR, RT_BWRAP };

struct rt;        /* one backend and every sandbox it runs (opaque) */
struct rt_proc;   /* one process started in a sandbox (opaque) */

struct rt_config {
	enum rt_kind kind;
	const char *state_dir;      /* roots live under it; NULL: a private temp dir */
	/* When sbxd runs as root: the host uid (and gid) of the sandbox's
	 * uid 0; sandbox uid u is host uid sandbox_uid + u (u < 65536), so
	 * `user` (1000) is sandbox_uid + 1000.  0: 1000000.  Ignored
	 * otherwise: every sandbox uid is then sbxd's own. */
	unsigned sandbox_uid;
};

/* What a sandbox is made from; every pointer is borrowed for the call. */
struct rt_box_spec {
	const char *id;             /* the sandbox ID: hostname and directory name */
	const char *template_id;
	const char *rootfs;         /* NULL: the base template (host /usr, read-only) */
	int cpu_count, memory_mb, disk_mb;
	bool internet;
	const json_t *env_vars;     /* NULL or object string -> string */
};

/* The backend; NULL with *err (caller frees) when it cannot work here, e.g.
 * bwrap missing. */
struct rt *rt_new(const struct rt_config *cfg, char **err);
/* Kills every sandbox's processes; roots stay for a restart. */
void rt_free(struct rt *rt);
enum rt_kind rt_kind(const struct rt *rt);
const char *rt_kind_name(enum rt_kind kind);

/* The root exists and (bwrap) init runs on success.  On failure nothing is
 * left behind.  -ENOENT: rootfs missing; -EIO and err: bwrap failed. */
int rt_create(struct rt *rt, const struct rt_box_spec *spec, char *err, size_t errlen);
/* After an sbxd restart: the root is kept, a fresh init started (a reboot). */
int rt_restore(struct rt *rt, const struct rt_box_spec *spec, bool paused, char *err,
	       size_t errlen);
int rt_freeze(struct rt *rt, const char *id);
int rt_thaw(struct rt *rt, const char *id);
/* Every process gone and the root removed when it returns 0. */
int rt_destroy(struct rt *rt, const char *id);
/* After the restores of a restart: removes the roots of sandboxes for
 * which keep(ctx, id) is false (they ended while sbxd was down).  How
 * many. */
int rt_sweep(struct rt *rt, bool (*keep)(void *ctx, const char *id), void *ctx);
/* What this runtime enforces, for /sbxd/stats (caller owns):
 * {"kind", and for bwrap "cgroup", "memory", "pids", "cpu", "freezer",
 *  "disk", "network", "sandbox_uid"}. */
json_t *rt_info(struct rt *rt);

/* What a sandbox uses now, for its metrics. */
struct rt_usage {
	double cpu_pct;             /* of its CPUs, since the previous call (or its start) */
	uint64_t cpu_us;            /* CPU time of its processes */
	uint64_t mem, cache;        /* memory in use and, of it, page cache (bytes) */
};

/* 0; -ENOENT: no such sandbox; -EOPNOTSUPP: nothing is counted (record and
 * dir runtimes, or no cgroup to read). */
int rt_usage(struct rt *rt, const char *id, struct rt_usage *out);

/* ---- for envd: files ---- */

/* A new O_PATH|O_DIRECTORY descriptor of the sandbox's "/" as its processes
 * see it (the caller closes it).  Resolve every path below it with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) so no path, `..` or
 * symlink reaches a host file.  bwrap: /proc/<init>/root, so its
 * read-only binds (/usr) show as inside and writes there fail EROFS; it
 * opens while frozen; -ESRCH without an init.  -ENOENT: no such sandbox;
 * -EOPNOTSUPP: the record runtime. */
int rt_root_open(struct rt *rt, const char *id);

/* The host uid/gid that sandbox user `user` ("user" or "root") owns files
 * as, and its home inside the sandbox (static string).  Files envd creates
 * are fchown'd to them.  -ENOENT: unknown user. */
int rt_user(struct rt *rt, const char *id, const char *user, uid_t *uid, gid_t *gid,
	    const char **home);

/* ---- for envd: processes ---- */

struct rt_exec_spec {
	const char *const *argv;    /* argv[0] is looked up in PATH */
	const json_t *envs;         /* NULL or object: added to the sandbox's env */
	const char *cwd;            /* NULL: the user's home */
	const char *user;           /* "user" (default when NULL) or "root" */
	bool pty;
	unsigned short cols, rows;  /* pty size */
};

/* Starts a process inside the sandbox's namespaces.  *out is owned by the
 * caller (rt_proc_free).  -EOPNOTSUPP (with err): record and dir runtimes;
 * -ENOENT: no such sandbox (or no such program: err says which);
 * -EAGAIN: process limit.  Also: -EBUSY while the sandbox is paused,
 * -EINVAL (with err) for an empty argv or an unknown user.  When sbxd is
 * not root only `user` is mapped; "root" is then uid 0 of a user namespace
 * of the process's own over it (see sbxd(8)).  rt_proc_free
 * does not end the process; it runs on, reaped by init. */
int rt_exec(struct rt *rt, const char *id, const struct rt_exec_spec *spec,
	    struct rt_proc **out, char *err, size_t errlen);
/* The pid inside the sandbox. */
int rt_proc_pid(const struct rt_proc *p);
/* Non-blocking descriptors owned by p: stdin (-1 once closed), stdout,
 * stderr (-1 with a pty: the pty carries both), pty master (-1 without).
 * With a pty, stdin, stdout and stderr are all -1: read and write the
 * master. */
int rt_proc_stdin(const struct rt_proc *p);
int rt_proc_stdout(const struct rt_proc *p);
int rt_proc_stderr(const struct rt_proc *p);
int rt_proc_pty(const struct rt_proc *p);
int rt_proc_close_stdin(struct rt_proc *p);
int rt_proc_signal(struct rt_proc *p, int sig);
int rt_proc_resize(struct rt_proc *p, unsigned short cols, unsigned short rows);
/* A descriptor that becomes readable when the process has exited; then
 * rt_proc_status gives 0 and the wait status. -EAGAIN while running. */
int rt_proc_exit_fd(const struct rt_proc *p);
int rt_proc_status(struct rt_proc *p, int *wstatus);
void rt_proc_free(struct rt_proc *p);

#endif
