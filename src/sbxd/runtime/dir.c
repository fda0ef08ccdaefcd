/* The dir runtime: a private root directory per sandbox and no process at
 * all, for tests of file access where bubblewrap cannot run.  Pausing only
 * records the state; rt_exec refuses (proc.c), so nothing ever runs
 * unisolated. */
#include "runtime/rt_priv.h"

static int dir_start(struct rt *rt, struct rt_box *b, const struct rt_box_spec *spec,
		     char *err, size_t errlen)
{
	return rootfs_build(rt, b, spec, err, errlen);
}

static int dir_freeze(struct rt *rt, struct rt_box *b)
{
	(void)rt;
	b->frozen = true;
	return 0;
}

static int dir_thaw(struct rt *rt, struct rt_box *b)
{
	(void)rt;
	b->frozen = false;
	return 0;
}

static void dir_stop(struct rt *rt, struct rt_box *b)
{
	(void)rt, (void)b;
}

const struct rt_ops rt_dir_ops = { dir_start, dir_freeze, dir_thaw, dir_stop };
