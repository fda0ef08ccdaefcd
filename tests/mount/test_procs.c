/* MOUNT/<sandbox>/procs/: processes run through a real mount on real
 * sandboxes (sbxd --runtime bwrap), every effect checked through envd
 * directly (List, /files, Start: fsfix.h).  Skipped where bubblewrap
 * cannot run (the dir runtime runs no processes). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "fsfix.h"

static char *id;

static void setup(void)
{
	if (strcmp(fsfix_runtime(), "bwrap") != 0)
		return;
	fsfix_start(NULL);
	id = fsfix_sandbox("box", "py3tpl");
}

static void teardown(void)
{
	if (id)
		fsfix_stop();
	free(id);
	id = NULL;
}

#define NEED_BWRAP() do { \
	if (id == NULL) \
		cr_skip_test("bubblewrap cannot run here: no processes"); \
} while (0)

TestSuite(procs, .init = setup, .fini = teardown, .timeout = 60);

/* The mount's file p (under $MNT) as a string (malloc'd). */
static char *mread(const char *p)
{
	char *b = slurp(P("%s", p), NULL);

	cr_assert_not_null(b, "read %s", p);
	return b;
}

/* Whether envd lists a process of sandbox sid with this tag (its pid in
 * *pid when it does). */
static bool listed(const char *sid, const char *tag, unsigned *pid)
{
	json_t *out = NULL, *v;
	size_t i;
	bool found = false;

	cr_assert_eq(eproc(sid, "List", "{}", &out), 200);
	json_array_foreach(json_object_get(out, "processes"), i, v) {
		const char *t = json_string_value(json_object_get(v, "tag"));

		if (t && strcmp(t, tag) == 0) {
			found = true;
			if (pid)
				*pid = (unsigned)json_integer_value(json_object_get(v, "pid"));
		}
	}
	json_decref(out);
	return found;
}

/* Waits up to 5 s for envd to list no process tagged tag. */
static void gone_from_list(const char *sid, const char *tag)
{
	for (int i = 0; i < 100 && listed(sid, tag, NULL); i++)
		clock_sleep_ms(50);
	cr_assert_not(listed(sid, tag, NULL), "%s still runs", tag);
}

Test(procs, a_command_runs_and_its_exit_and_output_are_files)
{
	char *b;
	size_t len;
	long st;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/a && echo 'echo hi; echo err >&2; "
			"echo ran > /home/user/a.mark; exit 3' > $MNT/box/procs/a/cmd"), 0);
	b = mread("/box/procs/a/exit");
	cr_assert_str_eq(b, "3\n");
	free(b);
	b = mread("/box/procs/a/stdout");
	cr_assert_str_eq(b, "hi\n");
	free(b);
	b = mread("/box/procs/a/stderr");
	cr_assert_str_eq(b, "err\n");
	free(b);
	b = mread("/box/procs/a/status");
	cr_assert_str_eq(b, "exited 3\n");
	free(b);
	b = mread("/box/procs/a/pid");
	cr_assert(atoi(b) > 0);
	free(b);
	/* It ran in the sandbox, and has ended there. */
	b = eget(id, "/home/user/a.mark", &len, &st);
	cr_assert_eq(st, 200);
	cr_assert_str_eq(b, "ran\n");
	free(b);
	gone_from_list(id, "a");
	cr_assert_eq(sh("ls $MNT/box/procs | grep -qx a"), 0);
}

Test(procs, output_grows_while_it_runs_and_reads_at_its_end_return_eof)
{
	struct stat st;
	off_t last = 0;
	int sizes = 0, fd;
	char buf[256];
	int64_t t0;
	char *b;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/g && echo 'for i in 1 2 3 4 5 6; do echo line$i; "
			"sleep 0.5; done' > $MNT/box/procs/g/cmd"), 0);
	cr_assert_geq(fd = open(P("/box/procs/g/stdout"), O_RDONLY), 0);
	for (int i = 0; i < 80; i++) {
		cr_assert_eq(fstat(fd, &st), 0);
		if (st.st_size > last) {
			sizes++;
			last = st.st_size;
			/* At the end of what is there: EOF at once, no wait. */
			t0 = clock_mono_ms();
			cr_assert_eq(pread(fd, buf, sizeof(buf), st.st_size), 0);
			cr_assert_lt(clock_mono_ms() - t0, 1000);
		}
		if (last >= 36)
			break;
		clock_sleep_ms(100);
	}
	close(fd);
	cr_assert_geq(sizes, 3, "the size grew %d times", sizes);
	b = mread("/box/procs/g/exit");
	cr_assert_str_eq(b, "0\n");
	free(b);
	b = mread("/box/procs/g/stdout");
	cr_assert_str_eq(b, "line1\nline2\nline3\nline4\nline5\nline6\n");
	free(b);
}

Test(procs, binary_output_is_byte_exact)
{
	char *b;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/bin && echo 'head -c 8M /dev/urandom | "
			"tee /home/user/bin.out' > $MNT/box/procs/bin/cmd"), 0);
	b = mread("/box/procs/bin/exit");
	cr_assert_str_eq(b, "0\n");
	free(b);
	cr_assert_eq(eget_to(id, "/home/user/bin.out", P("/../procs-bin.remote")), 200);
	cr_assert_eq(sh("test $(stat -c %%s $MNT/box/procs/bin/stdout) = 8388608 && "
			"a=$(sha256sum < $MNT/box/procs/bin/stdout) && "
			"b=$(sha256sum < $MNT/../procs-bin.remote) && test \"$a\" = \"$b\""), 0);
	unlink(P("/../procs-bin.remote"));
}

Test(procs, stdin_goes_to_the_process_and_stdin_close_ends_it)
{
	char *b;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/c && echo cat > $MNT/box/procs/c/cmd && "
			"printf 'abc\\n' > $MNT/box/procs/c/stdin && "
			"printf 'def' > $MNT/box/procs/c/stdin && "
			"echo > $MNT/box/procs/c/stdin_close"), 0);
	b = mread("/box/procs/c/exit");
	cr_assert_str_eq(b, "0\n");
	free(b);
	b = mread("/box/procs/c/stdout");
	cr_assert_str_eq(b, "abc\ndef");
	free(b);
}

Test(procs, term_and_kill_end_a_process_and_status_says_so)
{
	char *b;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/t $MNT/box/procs/k && "
			"echo 'sleep 30' > $MNT/box/procs/t/cmd && "
			"echo 'sleep 30' > $MNT/box/procs/k/cmd"), 0);
	cr_assert(listed(id, "t", NULL));
	b = mread("/box/procs/t/status");
	cr_assert_str_eq(b, "running\n");
	free(b);
	cr_assert_eq(sh("echo TERM > $MNT/box/procs/t/signal && echo KILL > $MNT/box/procs/k/signal"),
		     0);
	b = mread("/box/procs/t/exit");
	cr_assert_str_eq(b, "143\n");
	free(b);
	b = mread("/box/procs/k/exit");
	cr_assert_str_eq(b, "137\n");
	free(b);
	b = mread("/box/procs/t/status");
	cr_assert_str_eq(b, "killed TERM\n");
	free(b);
	b = mread("/box/procs/k/status");
	cr_assert_str_eq(b, "killed KILL\n");
	free(b);
	gone_from_list(id, "t");
	gone_from_list(id, "k");
}

Test(procs, rmdir_of_a_running_process_kills_it)
{
	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/r && echo 'sleep 30' > $MNT/box/procs/r/cmd"), 0);
	cr_assert(listed(id, "r", NULL));
	cr_assert_eq(sh("rmdir $MNT/box/procs/r"), 0);
	gone_from_list(id, "r");
	cr_assert_neq(sh("ls $MNT/box/procs | grep -qx r"), 0);
}

Test(procs, eight_processes_in_two_sandboxes_at_once)
{
	char p[64], *b, *id2;

	NEED_BWRAP();
	id2 = fsfix_sandbox("box2", "py3tpl");
	cr_assert_eq(sh("for b in box box2; do for i in 1 2 3 4; do "
			"(mkdir $MNT/$b/procs/p$i && echo \"sleep 1; echo $b-$i\" > "
			"$MNT/$b/procs/p$i/cmd && cat $MNT/$b/procs/p$i/exit > /dev/null) & "
			"done; done; wait"), 0);
	for (int s = 0; s < 2; s++)
		for (int i = 1; i <= 4; i++) {
			snprintf(p, sizeof(p), "/box%s/procs/p%d/stdout", s ? "2" : "", i);
			b = mread(p);
			snprintf(p, sizeof(p), "box%s-%d\n", s ? "2" : "", i);
			cr_assert_str_eq(b, p);
			free(b);
		}
	gone_from_list(id2, "p1");
	free(id2);
}

Test(procs, a_process_started_through_envd_shows_up_and_takes_signals)
{
	pid_t child;
	unsigned pid = 0;
	int status;
	char *b, want[32];

	NEED_BWRAP();
	if ((child = fork()) == 0) {
		char *body = NULL;
		long st = estream(id, "Start", "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":"
				  "[\"-l\",\"-c\",\"sleep 30\"]},\"tag\":\"sdk1\"}", &body, NULL);

		_exit(st == 200 ? 0 : 1);
	}
	cr_assert_gt(child, 0);
	for (int i = 0; i < 100 && !listed(id, "sdk1", &pid); i++)
		clock_sleep_ms(50);
	cr_assert_gt(pid, 0);
	cr_assert_eq(sh("ls $MNT/box/procs | grep -qx sdk1"), 0);
	b = mread("/box/procs/sdk1/pid");
	snprintf(want, sizeof(want), "%u\n", pid);
	cr_assert_str_eq(b, want);
	free(b);
	b = mread("/box/procs/sdk1/cmd");
	cr_assert_str_eq(b, "sleep 30\n");
	free(b);
	cr_assert_eq(sh("echo TERM > $MNT/box/procs/sdk1/signal"), 0);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	gone_from_list(id, "sdk1");
	/* No stream followed it: its end is seen in the List, its code is not. */
	for (int i = 0; i < 60; i++) {
		b = mread("/box/procs/sdk1/status");
		if (strcmp(b, "running\n") != 0)
			break;
		free(b);
		b = NULL;
		clock_sleep_ms(100);
	}
	cr_assert_str_eq(b, "failed ended unattached (exit status unknown)\n");
	free(b);
}

Test(procs, a_process_started_elsewhere_is_followed_from_the_first_open)
{
	pid_t child;
	int status;
	char *b;

	NEED_BWRAP();
	if ((child = fork()) == 0) {
		long st = estream(id, "Start", "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":"
				  "[\"-l\",\"-c\",\"sleep 1.5; echo late; exit 4\"]},\"tag\":\"sdk2\"}",
				  NULL, NULL);

		_exit(st == 200 ? 0 : 1);
	}
	cr_assert_gt(child, 0);
	for (int i = 0; i < 100 && !listed(id, "sdk2", NULL); i++)
		clock_sleep_ms(50);
	b = mread("/box/procs/sdk2/exit");
	cr_assert_str_eq(b, "4\n");
	free(b);
	b = mread("/box/procs/sdk2/stdout");
	cr_assert_str_eq(b, "late\n");
	free(b);
	b = mread("/box/procs/sdk2/status");
	cr_assert_str_eq(b, "exited 4\n");
	free(b);
	cr_assert_eq(waitpid(child, &status, 0), child);
}

/* One write(2) of s to the mount's file p: 0 or -errno. */
static int put1(const char *p, const char *s)
{
	int fd = open(P("%s", p), O_WRONLY | O_TRUNC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		r = -errno;
	close(fd);
	return r;
}

Test(procs, refusals_have_their_errno)
{
	char *b;

	NEED_BWRAP();
	cr_assert_eq(mkdir(P("/box/procs/e"), 0755), 0);
	cr_assert_eq(mkdir(P("/box/procs/e"), 0755), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(put1("/box/procs/e/signal", "TERM\n"), -ESRCH);   /* not started */
	cr_assert_eq(put1("/box/procs/e/cmd", "sleep 30\n"), 0);
	cr_assert_eq(put1("/box/procs/e/cmd", "true\n"), -EBUSY);
	cr_assert_eq(put1("/box/procs/e/cwd", "/tmp\n"), -EBUSY);
	cr_assert_eq(put1("/box/procs/e/signal", "HUP\n"), -EINVAL);
	cr_assert_eq(put1("/box/procs/e/status", "x\n"), -EACCES);
	b = mread("/box/procs/e/cmd");
	cr_assert_str_eq(b, "sleep 30\n");
	free(b);
	cr_assert(listed(id, "e", NULL));     /* the bad signal changed nothing */
	cr_assert_eq(rmdir(P("/box/procs/e")), 0);
	gone_from_list(id, "e");
	/* A start envd refuses: its errno, and why in status. */
	cr_assert_eq(mkdir(P("/box/procs/f"), 0755), 0);
	cr_assert_eq(put1("/box/procs/f/cwd", "/nowhere\n"), 0);
	cr_assert_eq(put1("/box/procs/f/cmd", "true\n"), -EINVAL);
	b = mread("/box/procs/f/status");
	cr_assert_str_eq(b, "failed cwd '/nowhere' does not exist\n");
	free(b);
	cr_assert_eq(put1("/box/procs/f/user", "no such user\n"), -EBUSY);
	cr_assert_eq(mkdir(P("/box/procs/.hidden"), 0755), -1);
	cr_assert_eq(errno, EINVAL);
}

Test(procs, env_cwd_and_user_apply)
{
	char *b;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/v && echo FOO=bar > $MNT/box/procs/v/env && "
			"printf 'BAZ=qux\\nX=1\\n' > $MNT/box/procs/v/env && "
			"echo /tmp > $MNT/box/procs/v/cwd && "
			"echo 'echo $FOO $BAZ $X; pwd; id -un' > $MNT/box/procs/v/cmd"), 0);
	b = mread("/box/procs/v/exit");
	cr_assert_str_eq(b, "0\n");
	free(b);
	b = mread("/box/procs/v/stdout");
	cr_assert_str_eq(b, "bar qux 1\n/tmp\nuser\n");
	free(b);
	b = mread("/box/procs/v/env");
	cr_assert_str_eq(b, "FOO=bar\nBAZ=qux\nX=1\n");
	free(b);
	cr_assert_eq(sh("mkdir $MNT/box/procs/r2 && echo root > $MNT/box/procs/r2/user && "
			"echo 'id -un; pwd' > $MNT/box/procs/r2/cmd && cat $MNT/box/procs/r2/exit"), 0);
	b = mread("/box/procs/r2/stdout");
	cr_assert_str_eq(b, "root\n/root\n");
	free(b);
}

Test(procs, an_interrupted_wait_for_exit_leaves_the_process_running)
{
	int64_t t0;
	char *b;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/w && echo 'sleep 30' > $MNT/box/procs/w/cmd"), 0);
	t0 = clock_mono_ms();
	cr_assert_neq(sh("timeout -s INT 1 cat $MNT/box/procs/w/exit"), 0);
	cr_assert_lt(clock_mono_ms() - t0, 5000);
	b = mread("/box/procs/w/status");
	cr_assert_str_eq(b, "running\n");
	free(b);
	cr_assert(listed(id, "w", NULL));
	cr_assert_eq(sh("echo KILL > $MNT/box/procs/w/signal"), 0);
	b = mread("/box/procs/w/exit");
	cr_assert_str_eq(b, "137\n");
	free(b);
}

Test(procs, a_paused_sandbox_refuses_a_start_and_keeps_its_output)
{
	char *b;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/o $MNT/box/procs/q && "
			"echo 'echo kept' > $MNT/box/procs/o/cmd && cat $MNT/box/procs/o/exit"), 0);
	cr_assert_eq(sh("echo paused > $MNT/box/state"), 0);
	cr_assert_eq(put1("/box/procs/q/cmd", "true\n"), -EHOSTDOWN);
	b = mread("/box/procs/o/stdout");
	cr_assert_str_eq(b, "kept\n");
	free(b);
	b = rest_field(id, "state");
	cr_assert_str_eq(b, "paused");      /* nothing resumed it */
	free(b);
	cr_assert_eq(sh("echo running > $MNT/box/state"), 0);
}

/* ---- with small limits: max_procs=1, proc_output_max=4K ---- */

static void setup_small(void)
{
	if (strcmp(fsfix_runtime(), "bwrap") != 0)
		return;
	fsfix_start("max_procs=1,proc_output_max=4K");
	id = fsfix_sandbox("box", "py3tpl");
}

TestSuite(procs_small, .init = setup_small, .fini = teardown, .timeout = 60);

Test(procs_small, output_past_the_bound_is_dropped_oldest_first)
{
	char *b, *want;
	size_t len, wlen;
	struct stat st;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/s && echo 'seq 1 3000' > $MNT/box/procs/s/cmd && "
			"cat $MNT/box/procs/s/exit"), 0);
	cr_assert_eq(sh("seq 1 3000 > $MNT/../seq.want"), 0);
	want = slurp(P("/../seq.want"), &wlen);
	unlink(P("/../seq.want"));
	cr_assert_eq(stat(P("/box/procs/s/stdout"), &st), 0);
	cr_assert_eq((size_t)st.st_size, wlen);
	b = slurp(P("/box/procs/s/stdout"), &len);
	cr_assert_eq(len, wlen);
	/* The oldest bytes read as NULs, the last 4 KiB as they were. */
	for (size_t i = 0; i < wlen - 4096; i++)
		cr_assert_eq(b[i], '\0', "byte %zu", i);
	cr_assert_eq(memcmp(b + wlen - 4096, want + wlen - 4096, 4096), 0);
	free(b);
	free(want);
	b = mread("/box/procs/s/status");
	snprintf(want = malloc(64), 64, "exited 0 (dropped %zu bytes)\n", wlen - 4096);
	cr_assert_str_eq(b, want);
	free(b);
	free(want);
}

Test(procs_small, past_max_procs_a_new_slot_is_eagain)
{
	int r = -1;
	char *st;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/y && echo 'sleep 30' > $MNT/box/procs/y/cmd"), 0);
	st = mread("/.sbxfs/status");
	cr_assert(strstr(st, "\nprocs_attached=1\nmax_procs=1\n"), "%s", st);
	free(st);
	cr_assert_eq(mkdir(P("/box/procs/z"), 0755), -1);
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(sh("echo KILL > $MNT/box/procs/y/signal && cat $MNT/box/procs/y/exit"), 0);
	/* Its stream ends just after the exit is known. */
	for (int i = 0; i < 40 && (r = mkdir(P("/box/procs/z"), 0755)) != 0; i++)
		clock_sleep_ms(50);
	cr_assert_eq(r, 0);
	st = mread("/.sbxfs/status");
	cr_assert(strstr(st, "\nprocs_attached=0\n"), "%s", st);
	free(st);
}

Test(procs, many_waits_for_exit_do_not_stall_the_mount)
{
	int64_t t0;

	NEED_BWRAP();
	cr_assert_eq(sh("for i in $(seq 1 14); do mkdir $MNT/box/procs/m$i && "
			"echo 'sleep 30' > $MNT/box/procs/m$i/cmd || exit 1; done"), 0);
	cr_assert_eq(sh("for i in $(seq 1 14); do (cat $MNT/box/procs/m$i/exit > /dev/null &) ; "
			"done"), 0);
	clock_sleep_ms(500);
	t0 = clock_mono_ms();
	cr_assert_eq(sh("timeout 5 cat $MNT/box/procs/m1/status > /dev/null && "
			"timeout 5 ls $MNT/box/procs > /dev/null"), 0);
	cr_assert_lt(clock_mono_ms() - t0, 3000);
	cr_assert_eq(sh("for i in $(seq 1 14); do echo KILL > $MNT/box/procs/m$i/signal; done"), 0);
	gone_from_list(id, "m14");
}

Test(procs, a_killed_sandbox_has_no_processes_to_open)
{
	int fd;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/d && echo 'sleep 30' > $MNT/box/procs/d/cmd"), 0);
	cr_assert_geq(fd = open(P("/box/procs/d/stdout"), O_RDONLY), 0);
	cr_assert_eq(sh("rmdir $MNT/box"), 0);
	cr_assert_eq(open(P("/box/procs/d/status"), O_RDONLY), -1);
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(mkdir(P("/box/procs/d2"), 0755), -1);
	cr_assert_eq(errno, ENOENT);
	close(fd);
}

Test(procs, a_dropped_stream_is_attached_again_and_the_exit_kept)
{
	char *b = NULL;

	NEED_BWRAP();
	cr_assert_eq(sh("mkdir $MNT/box/procs/x && echo 'echo one; sleep 2; echo two; exit 5' > "
			"$MNT/box/procs/x/cmd"), 0);
	for (int i = 0; i < 40; i++) {
		free(b);
		b = mread("/box/procs/x/stdout");
		if (strcmp(b, "one\n") == 0)
			break;
		clock_sleep_ms(50);
	}
	cr_assert_str_eq(b, "one\n");
	free(b);
	/* Every TCP connection to sbxd ends now, the stream's among them. */
	if (sh("test $(ss -K -t dst 127.0.0.1 dport = :%u 2>/dev/null | tail -n +2 | wc -l) -ge 1",
	       (unsigned)M.port) != 0)
		cr_skip_test("ss -K cannot end connections here");
	b = mread("/box/procs/x/exit");
	cr_assert_str_eq(b, "5\n");
	free(b);
	b = mread("/box/procs/x/stdout");
	cr_assert_str_eq(b, "one\ntwo\n");
	free(b);
}

Test(procs, sigterm_stops_the_mount_while_a_wait_for_exit_is_open)
{
	int status = 0;
	pid_t r = 0;
	int64_t t0;

	NEED_BWRAP();
#if defined(__SANITIZE_ADDRESS__)
	/* libfuse releases no file still open when its loop ends: the
	 * handle of the interrupted read is left for LeakSanitizer. */
	cr_skip_test("the daemon's open handle at SIGTERM would be reported as a leak");
#endif
	/* The same under valgrind (tests/fault/vg-wrap), which exits 99. */
	if (getenv("SBXFS_REAL_EXE"))
		cr_skip_test("the daemon's open handle at SIGTERM is a leak to valgrind");
	cr_assert_eq(sh("mkdir $MNT/box/procs/s && echo 'sleep 30' > $MNT/box/procs/s/cmd && "
			"(cat $MNT/box/procs/s/exit > /dev/null 2>&1 &)"), 0);
	clock_sleep_ms(300);
	t0 = clock_mono_ms();
	cr_assert_eq(kill(M.pid, SIGTERM), 0);
	for (int i = 0; i < 100 && (r = waitpid(M.pid, &status, WNOHANG)) == 0; i++)
		clock_sleep_ms(50);
	cr_assert_eq(r, M.pid, "sbxfs still runs %lld ms after SIGTERM",
		     (long long)(clock_mono_ms() - t0));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	M.pid = 0;
	cr_assert(listed(id, "s", NULL));     /* the process outlives the mount */
}
