/* MOUNT/<sandbox>/procs/ driven by ordinary shell tools: `xargs -P`
 * running jobs in several sandboxes at once, and `tail -f` following a
 * process's stdout.  Effects are checked through envd (List, /files),
 * not the mount.  Skipped where bubblewrap cannot run. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "fsfix.h"

static char *id;

static void setup(void)
{
	if (strcmp(fsfix_runtime(), "bwrap") != 0)
		return;
	fsfix_start(NULL);
	id = fsfix_sandbox("box1", "py3tpl");
}

static void teardown(void)
{
	if (id)
		fsfix_stop();
	free(id);
	id = NULL;
}

TestSuite(procs_shell, .init = setup, .fini = teardown, .timeout = 90);

/* How many processes envd lists in sandbox sid whose tag starts with
 * prefix. */
static int listed_prefix(const char *sid, const char *prefix)
{
	json_t *out = NULL, *v;
	size_t i;
	int n = 0;

	cr_assert_eq(eproc(sid, "List", "{}", &out), 200);
	json_array_foreach(json_object_get(out, "processes"), i, v) {
		const char *t = json_string_value(json_object_get(v, "tag"));

		if (t && strncmp(t, prefix, strlen(prefix)) == 0)
			n++;
	}
	json_decref(out);
	return n;
}

/* 16 jobs, 4 per sandbox, each `sleep 2`: run one at a time they would
 * take 32 s, so finishing within 20 s shows they overlapped. */
Test(procs_shell, sixteen_processes_in_four_sandboxes_through_xargs)
{
	char *ids[5] = { NULL }, name[16], p[64], want[64], *b;
	size_t len;
	long st;
	int64_t t0;

	if (id == NULL)
		cr_skip_test("bubblewrap cannot run here: no processes");
	ids[1] = id;
	for (int s = 2; s <= 4; s++) {
		snprintf(name, sizeof(name), "box%d", s);
		ids[s] = fsfix_sandbox(name, "py3tpl");
	}
	t0 = clock_mono_ms();
	cr_assert_eq(sh("for n in $(seq 1 16); do echo box$(( (n - 1) / 4 + 1 )) j$n $n; done | "
			"xargs -P 16 -n 3 sh -c 'mkdir $MNT/$0/procs/$1 && "
			"echo \"sleep 2; echo $0-$1; echo $0-$1 > /home/user/$1.out; exit $2\" "
			"> $MNT/$0/procs/$1/cmd && cat $MNT/$0/procs/$1/exit > $MNT/../xa-$1'"), 0);
	cr_assert_lt(clock_mono_ms() - t0, 20000, "took %lld ms",
		     (long long)(clock_mono_ms() - t0));
	for (int n = 1; n <= 16; n++) {
		int s = (n - 1) / 4 + 1;

		snprintf(p, sizeof(p), "/../xa-j%d", n);
		b = slurp(P("%s", p), NULL);
		cr_assert_not_null(b);
		snprintf(want, sizeof(want), "%d\n", n);
		cr_assert_str_eq(b, want, "j%d exit", n);
		free(b);
		unlink(P("%s", p));
		snprintf(p, sizeof(p), "/box%d/procs/j%d/stdout", s, n);
		b = slurp(P("%s", p), NULL);
		snprintf(want, sizeof(want), "box%d-j%d\n", s, n);
		cr_assert_str_eq(b, want, "j%d stdout", n);
		free(b);
		/* It ran in its own sandbox: the mark it left, through envd. */
		snprintf(p, sizeof(p), "/home/user/j%d.out", n);
		b = eget(ids[s], p, &len, &st);
		cr_assert_eq(st, 200, "j%d mark", n);
		cr_assert_str_eq(b, want);
		free(b);
	}
	for (int s = 1; s <= 4; s++)
		cr_assert_eq(listed_prefix(ids[s], "j"), 0, "box%d still runs jobs", s);
	for (int s = 2; s <= 4; s++)
		free(ids[s]);
}

/* The wall clock in ns (the sandbox shares the host's clock, so its
 * `date +%s%N` compares with this). */
static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* GNU tail polls a FUSE file's size once a second (no inotify there),
 * and the kernel holds a file's attributes for attr_timeout (cache_ttl)
 * seconds; output that grows drops them for open stdout files, so the
 * 2 s bound holds with a cache_ttl well past it. */
static void setup_longttl(void)
{
	if (strcmp(fsfix_runtime(), "bwrap") != 0)
		return;
	fsfix_start("cache_ttl=5");
	id = fsfix_sandbox("box1", "py3tpl");
}

TestSuite(procs_tail, .init = setup_longttl, .fini = teardown, .timeout = 90);

/* Each line carries the time the process printed it; tail -f must show
 * it within 2 s of that.  tail runs under timeout(1), so a mount that
 * never shows a line ends the read within 30 s. */
Test(procs_tail, tail_f_shows_each_line_within_two_seconds)
{
	char line[128];
	FILE *f;
	int got = 0, tpid = 0;
	long long printed, lag, worst = 0;
	unsigned i;

	if (id == NULL)
		cr_skip_test("bubblewrap cannot run here: no processes");
	cr_assert_eq(sh("mkdir $MNT/box1/procs/f && echo 'for i in 1 2 3 4 5; do "
			"echo $i $(date +%%s%%N); sleep 1; done' > $MNT/box1/procs/f/cmd"), 0);
	f = popen("echo $$; exec timeout 30 tail -f $MNT/box1/procs/f/stdout", "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof(line), f));
	tpid = atoi(line);
	cr_assert_gt(tpid, 0);
	while (got < 5 && fgets(line, sizeof(line), f)) {
		lag = now_ns();
		cr_assert_eq(sscanf(line, "%u %lld", &i, &printed), 2, "line '%s'", line);
		lag -= printed;
		cr_assert_eq(i, (unsigned)got + 1, "line '%s'", line);
		cr_assert_lt(lag, 2000000000LL, "line %u after %lld ms", i, lag / 1000000);
		if (lag > worst)
			worst = lag;
		got++;
	}
	kill(tpid, SIGTERM);
	pclose(f);
	cr_assert_eq(got, 5, "tail -f showed %d lines", got);
	cr_log_info("tail -f: worst lag %lld ms", worst / 1000000);
}
