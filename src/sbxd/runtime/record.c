/* The record runtime: sandboxes are records only, as sbxd always was.
 * runtime.c answers every call for it before reaching this table; these
 * entries exist so the table is never NULL. */
#include "runtime/rt_priv.h"

static int rec_start(struct rt *rt, struct rt_box *b, const struct rt_box_spec *spec,
		     char *err, size_t errlen)
{
	(void)rt, (void)b, (void)spec, (void)err, (void)errlen;
	return 0;
}

static int rec_nop(struct rt *rt, struct rt_box *b)
{
	(void)rt, (void)b;
	return 0;
}

static void rec_stop(struct rt *rt, struct rt_box *b)
{
	(void)rt, (void)b;
}

const struct rt_ops rt_record_ops = { rec_start, rec_nop, rec_nop, rec_stop };
