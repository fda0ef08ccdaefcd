/* Processes for envd tests without the runtime (testrt.c).  ctx is the
 * sandbox root's host path. */
#ifndef SBXD_TEST_TESTRT_H
#define SBXD_TEST_TESTRT_H

#include "envd/envd.h"

#include <stddef.h>

int testrt_exec(void *ctx, const char *id, const struct rt_exec_spec *spec,
		struct rt_proc **out, char *err, size_t errlen);
extern const struct envd_proc_ops testrt_proc_ops;

#endif
