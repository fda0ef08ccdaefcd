/* Helpers for the runtime tests: whether bwrap can run here, running a
 * command in a sandbox through rt_exec and collecting its output, and the
 * host-side facts the tests check independently (/proc, cgroup files). */
#ifndef SBXD_TEST_RTUTIL_H
#define SBXD_TEST_RTUTIL_H

#include "runtime/runtime.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* NULL when bubblewrap can run sandboxes here, else why not (static). */
const char *rtu_bwrap_missing(void);

/* Skips the current test (cr_skip) when bwrap cannot run. */
void rtu_require_bwrap(void);

/* Runs argv as `user` ("user"/"root"/NULL) in sandbox id and waits (at most
 * timeout_ms) for it; out gets stdout (NUL-terminated, at most outlen-1).
 * Returns the wait status, or -errno (rt_exec's, or -ETIMEDOUT). */
int rtu_run(struct rt *rt, const char *id, const char *user, const char *const *argv,
	    char *out, size_t outlen, int timeout_ms);

/* sh -c script as `user`; as rtu_run. */
int rtu_sh(struct rt *rt, const char *id, const char *user, const char *script, char *out,
	   size_t outlen);

/* The host pids of sandbox id's cgroup (its process list), or -1 when it has
 * no cgroup; fills pids (at most max). */
int rtu_cg_pids(const char *id, pid_t *pids, int max);

/* The path of cgroup file `file` of sandbox id in the hierarchy holding it
 * ("memory.max" / "memory.limit_in_bytes"...), or false. */
bool rtu_cg_file(const char *id, const char *v1ctl, const char *file, char *out, size_t len);

/* utime + stime (clock ticks) of host pid, or -1. */
long rtu_cpu_ticks(pid_t pid);

/* The real uid of host pid, or -1. */
long rtu_host_uid(pid_t pid);

/* A tiny image at dir for a "rootfs" template: sh, cat and ls with the
 * libraries they and sbxd-init ($SBXD_INIT, bound in from the host) load,
 * and /etc/os-release saying ID=sbxd-test-image; owned by the caller, as an
 * unpacked image is by root.  Asserts. */
void rtu_make_image(const char *dir);

/* True when path exists on the host. */
bool rtu_exists(const char *path);

#endif
