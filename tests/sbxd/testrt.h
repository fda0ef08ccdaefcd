/* Processes for envd tests without the runtime (testrt.c).  ctx is the
 * sandbox root's host path. */
#ifndef SBXD_TEST_TESTRT_H
#define SBXD_TEST_TESTRT_H

#include "envd/envd.h"

#include <stdbool.h>
#include <stddef.h>

int testrt_exec(void *ctx, const char *id, const struct rt_exec_spec *spec,
		struct rt_proc **out, char *err, size_t errlen);
extern const struct envd_proc_ops testrt_proc_ops;

/* envd's backend for tests: every sandbox's "/" is the host directory
 * root (borrowed: it must outlive the server), both users are this
 * process's uid (as under an unprivileged dir runtime); with_procs adds
 * testrt's processes. */
void testrt_backend(struct envd_backend *out, const char *root, bool with_procs);

#endif
