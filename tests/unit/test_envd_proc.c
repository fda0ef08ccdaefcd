/* The envd client's process calls (envd/proc.h) against sbxd's envd
 * in-process on a loopback port, processes run by the tests' fork/exec
 * stand-in (tests/sbxd/testrt.c) in a temporary root. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "envd/proc.h"
#include "envdfix.h"

static void setup(void)
{
	envdfix_up(true);
}

TestSuite(envd_proc, .init = setup, .fini = envdfix_down, .timeout = 60);

/* What a stream delivered. */
struct got {
	unsigned pid;
	char out[256], err[256];
	size_t out_len, err_len;
	bool ended;
	int code;
	char status[64];
};

static int collect(const struct envdc_event *ev, void *ctx)
{
	struct got *g = ctx;

	if (ev->kind == ENVDC_EV_START)
		__atomic_store_n(&g->pid, ev->pid, __ATOMIC_RELEASE);
	if (ev->kind == ENVDC_EV_STDOUT && g->out_len + ev->len < sizeof(g->out)) {
		memcpy(g->out + g->out_len, ev->data, ev->len);
		g->out_len += ev->len;
	}
	if (ev->kind == ENVDC_EV_STDERR && g->err_len + ev->len < sizeof(g->err)) {
		memcpy(g->err + g->err_len, ev->data, ev->len);
		g->err_len += ev->len;
	}
	if (ev->kind == ENVDC_EV_END) {
		g->ended = true;
		g->code = ev->exit_code;
		snprintf(g->status, sizeof(g->status), "%s", ev->status);
	}
	return 0;
}

/* A Start on a thread of its own. */
struct bg {
	pthread_t th;
	const char *cmd;
	int cancel;
	int rc;
	struct got g;
};

static void *bg_main(void *arg)
{
	struct bg *b = arg;
	struct envdc_start st = { b->cmd, NULL, 0, NULL, "bg", NULL };
	struct envdc_error err;

	b->rc = envdc_proc_start(ec, &tg, &st, &b->cancel, collect, &b->g, &err);
	return NULL;
}

static unsigned bg_start(struct bg *b, const char *cmd)
{
	unsigned pid = 0;

	memset(b, 0, sizeof(*b));
	b->cmd = cmd;
	cr_assert_eq(pthread_create(&b->th, NULL, bg_main, b), 0);
	for (int i = 0; i < 200 && !(pid = __atomic_load_n(&b->g.pid, __ATOMIC_ACQUIRE)); i++)
		clock_sleep_ms(10);
	cr_assert_gt(pid, 0);
	return pid;
}

Test(envd_proc, start_streams_output_and_the_exit)
{
	struct envdc_start st = { "echo hi; echo err >&2; echo $FOO; exit 3",
				  (const char *const[]){ "FOO=bar" }, 1, NULL, "t", NULL };
	struct envdc_error err;
	struct got g = { 0 };

	cr_assert_eq(envdc_proc_start(ec, &tg, &st, NULL, collect, &g, &err), 0, "%s",
		     err.message);
	cr_assert_gt(g.pid, 0);
	cr_assert_eq(g.out_len, 7);
	cr_assert_eq(memcmp(g.out, "hi\nbar\n", 7), 0);
	cr_assert_eq(g.err_len, 4);
	cr_assert(g.ended);
	cr_assert_eq(g.code, 3);
}

Test(envd_proc, list_input_close_stdin_and_signal)
{
	struct envdc_pinfo *v;
	struct envdc_error err;
	struct bg a, b;
	size_t n;
	unsigned pa = bg_start(&a, "cat"), pb;
	bool found = false;

	cr_assert_eq(envdc_proc_list(ec, &tg, &v, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		found = found || (v[i].pid == pa && v[i].tag && !strcmp(v[i].tag, "bg") &&
				  !strcmp(v[i].cmd, "cat"));
	envdc_pinfo_free(v, n);
	cr_assert(found);
	cr_assert_eq(envdc_proc_input(ec, &tg, pa, "ab\0c", 4, &err), 0, "%s", err.message);
	cr_assert_eq(envdc_proc_close_stdin(ec, &tg, pa, &err), 0);
	pthread_join(a.th, NULL);
	cr_assert_eq(a.rc, 0);
	cr_assert_eq(a.g.out_len, 4);
	cr_assert_eq(memcmp(a.g.out, "ab\0c", 4), 0);
	cr_assert_eq(a.g.code, 0);
	pb = bg_start(&b, "sleep 30");
	cr_assert_eq(envdc_proc_signal(ec, &tg, pb, 2, &err), -EINVAL);
	cr_assert_eq(envdc_proc_signal(ec, &tg, pb, 15, &err), 0);
	pthread_join(b.th, NULL);
	cr_assert(b.g.ended);
	cr_assert_eq(b.g.code, -1);
	cr_assert_eq(envdc_proc_signal(ec, &tg, pb, 9, &err), -ENOENT);
}

Test(envd_proc, connect_follows_and_a_cancel_ends_a_stream_not_the_process)
{
	struct envdc_error err;
	struct got g = { 0 };
	struct bg a;
	unsigned pid = bg_start(&a, "sleep 0.5; echo late; exit 7");
	int64_t t0;

	cr_assert_eq(envdc_proc_connect(ec, &tg, pid, NULL, collect, &g, &err), 0, "%s",
		     err.message);
	cr_assert_eq(g.out_len, 5);
	cr_assert_eq(g.code, 7);
	pthread_join(a.th, NULL);
	cr_assert_eq(envdc_proc_connect(ec, &tg, 999999, NULL, collect, &g, &err), -ENOENT);
	pid = bg_start(&a, "sleep 30");
	t0 = clock_mono_ms();
	__atomic_store_n(&a.cancel, 1, __ATOMIC_RELEASE);
	pthread_join(a.th, NULL);
	cr_assert_eq(a.rc, -EINTR);
	cr_assert_lt(clock_mono_ms() - t0, 2000);
	cr_assert_eq(envdc_proc_signal(ec, &tg, pid, 9, &err), 0);   /* it still ran */
}
