/* Mount tests of what the kernel keeps: listings served over several
 * READDIRPLUS requests from one snapshot at stable offsets, the attributes
 * they hand over (so `ls -l` needs no LOOKUP), and read-only files in the
 * page cache, dropped when their content changes.  Request counts come from
 * libfuse's own trace (-o debug) in the sbxfs log. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mnt.h"

#define MANY 120

static void setup(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 60 });
}

/* The same with libfuse's request trace in the log. */
static void setup_traced(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 60, .extra = "debug",
				      .log_level = "warn", .allow_log = true });
}

static void teardown(void)
{
	mnt_stop();
}

static void refresh(void)
{
	cr_assert_eq(put(P(".sbxfs/refresh"), "1\n"), 0);
}

static void create_many(void)
{
	char name[16];

	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "s%03d", i);
		free(rest_create("base", name, NULL));
	}
}

static long log_size(void)
{
	struct stat st;

	return stat(M.logfile, &st) == 0 ? (long)st.st_size : 0;
}

/* Requests of this opcode the trace shows after byte `from` of the log,
 * on node `nodeid` (0: any node). */
static int traced(long from, const char *opcode, unsigned long nodeid)
{
	char *log = slurp(M.logfile, NULL), pat[64];
	int n = 0;

	cr_assert_not_null(log, "%s: %s", M.logfile, strerror(errno));
	snprintf(pat, sizeof(pat), "opcode: %s (", opcode);
	for (const char *p = log + from; (p = strstr(p, pat)) != NULL; p++) {
		const char *node = strstr(p, "nodeid: ");

		if (nodeid == 0 || (node && strtoul(node + 8, NULL, 10) == nodeid))
			n++;
	}
	free(log);
	return n;
}

/* Reads the directory behind fd with getdents64 into a buffer small
 * enough that each call is one FUSE request at the offset the last one
 * ended, adding names to seen[] until max_new more or the end. */
static int read_names(int fd, char seen[][NAME_MAX + 1], int cap, int n, int max_new)
{
	char buf[512];
	int added = 0;

	while (added < max_new) {
		long got = syscall(SYS_getdents64, fd, buf, sizeof(buf));

		cr_assert_geq(got, 0, "getdents64: %s", strerror(errno));
		if (got == 0)
			break;
		for (long pos = 0; pos < got;) {
			struct dirent64 *e = (struct dirent64 *)(buf + pos);

			cr_assert_lt(n, cap, "more entries than there can be");
			snprintf(seen[n++], NAME_MAX + 1, "%s", e->d_name);
			added++;
			pos += e->d_reclen;
		}
	}
	return n;
}

static int count_name(char seen[][NAME_MAX + 1], int n, const char *name)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		c += strcmp(seen[i], name) == 0;
	return c;
}

/* A listing read over many requests is one snapshot: sandboxes created
 * while it is read (one sorting first, one last) neither appear nor shift
 * an entry into a duplicate; a rewind shows them. */
Test(kernel, long_listing_is_one_snapshot_until_rewind, .init = setup, .fini = teardown,
     .timeout = 120)
{
	static char seen[MANY + 16][NAME_MAX + 1];
	char name[16];
	int fd, n;

	create_many();
	refresh();
	fd = open(M.dir, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	n = read_names(fd, seen, MANY + 16, 0, 30);
	cr_assert_geq(n, 30);
	free(rest_create("base", "a-new", NULL));
	free(rest_create("base", "z-new", NULL));
	refresh();
	n = read_names(fd, seen, MANY + 16, n, MANY + 16);
	cr_expect_eq(n, MANY + 3, "%d entries, want %d sandboxes, .sbxfs, . and ..", n, MANY + 3);
	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "s%03d", i);
		cr_expect_eq(count_name(seen, n, name), 1, "%s listed %d times", name,
			     count_name(seen, n, name));
	}
	cr_expect_eq(count_name(seen, n, "a-new") + count_name(seen, n, "z-new"), 0,
		     "a sandbox created mid-listing showed up before a rewind");
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	n = read_names(fd, seen, MANY + 16, 0, MANY + 16);
	cr_expect_eq(n, MANY + 5);
	cr_expect_eq(count_name(seen, n, "a-new"), 1);
	cr_expect_eq(count_name(seen, n, "z-new"), 1);
	close(fd);
}

/* ls -l of the root costs list pages and READDIRPLUS requests, and no
 * LOOKUP per sandbox: the listing handed the kernel every entry's
 * attributes. */
Test(kernel, ls_l_sends_no_lookup_per_sandbox, .init = setup_traced, .fini = teardown,
     .timeout = 120)
{
	long from;

	create_many();
	refresh();
	from = log_size();
	cr_assert_eq(sh("ls -l \"$MNT\" > '%s/ls.out' && test $(grep -c ' s[0-9]' '%s/ls.out') = %d",
			M.tmp, M.tmp, MANY), 0, "ls -l did not list the %d sandboxes", MANY);
	cr_expect_gt(traced(from, "READDIRPLUS", 1), 1, "the listing took no READDIRPLUS");
	cr_expect_eq(traced(from, "LOOKUP", 1), 0, "ls -l looked up %d entries of the root",
		     traced(from, "LOOKUP", 1));
	/* The root's own attributes may have expired; no sandbox's may be
	 * asked for. */
	cr_expect_eq(traced(from, "GETATTR", 0) - traced(from, "GETATTR", 1), 0,
		     "ls -l asked for %d sandboxes' attributes",
		     traced(from, "GETATTR", 0) - traced(from, "GETATTR", 1));
}

/* The node of path as the trace names it: from the LOOKUP that returned it. */
static unsigned long traced_node_of_open(long from)
{
	char *log = slurp(M.logfile, NULL);
	const char *p = strstr(log + from, "opcode: OPEN (");
	unsigned long node = 0;

	if (p && (p = strstr(p, "nodeid: ")))
		node = strtoul(p + 8, NULL, 10);
	free(log);
	return node;
}

/* An unchanged info is read once: later open+read+close cycles are served
 * by the kernel's pages (an OPEN each, no READ). */
Test(kernel, unchanged_file_is_read_from_the_page_cache, .init = setup_traced,
     .fini = teardown)
{
	char *first, *again;
	size_t n1, n2;
	unsigned long node;
	long from;

	free(rest_create("base", "web", NULL));
	refresh();
	first = slurp(P("web/info"), &n1);
	cr_assert_not_null(first, "%s", strerror(errno));
	from = log_size();
	for (int i = 0; i < 5; i++) {
		again = slurp(P("web/info"), &n2);
		cr_assert_not_null(again);
		cr_expect(n2 == n1 && memcmp(first, again, n1) == 0, "round %d differs", i);
		free(again);
	}
	node = traced_node_of_open(from);
	cr_assert_neq(node, 0, "no OPEN traced");
	cr_expect_eq(traced(from, "OPEN", node), 5);
	cr_expect_eq(traced(from, "READ", node), 0, "an unchanged info was read again");
	free(first);
}

/* A change behind the mount's back reaches a reader in full, whether the
 * content shrinks (paused) or grows again (running), although the kernel
 * held the old size: a cached page or size must never cut or pad it. */
Test(kernel, changed_file_is_read_anew_and_whole, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "web", NULL), *text, *tail;
	char path[128], want_tail[64];
	size_t len;

	cr_assert_not_null(id);
	snprintf(want_tail, sizeof(want_tail), "metadata.sbxfs.name=web\n");
	refresh();
	for (int round = 0; round < 2; round++) {
		const char *state = round == 0 ? "paused" : "running";

		text = slurp(P("web/info"), &len);
		cr_assert_not_null(text, "%s", strerror(errno));
		free(text);
		snprintf(path, sizeof(path), "/sandboxes/%s/%s", id, round == 0 ? "pause" : "resume");
		cr_assert_eq(rest("POST", path, round == 0 ? NULL : "{\"timeout\":300}", NULL),
			     round == 0 ? 204 : 201, "%s", path);
		refresh();
		text = slurp(P("web/info"), &len);
		cr_assert_not_null(text, "%s", strerror(errno));
		cr_expect_eq(strlen(text), len, "a NUL in info: padded with zeros?");
		snprintf(path, sizeof(path), "\nstate=%s\n", state);
		cr_expect_not_null(strstr(text, path), "round %d: no %s in\n%s", round, state, text);
		tail = len >= strlen(want_tail) ? text + len - strlen(want_tail) : text;
		cr_expect_str_eq(tail, want_tail, "round %d: info was cut:\n%s", round, text);
		free(text);
	}
	free(id);
}

/* Page-cached files can be mapped, and the mapping shows what read shows. */
Test(kernel, info_can_be_mapped, .init = setup, .fini = teardown)
{
	char *text, *map;
	size_t len;
	int fd;

	free(rest_create("base", "web", NULL));
	refresh();
	text = slurp(P("web/info"), &len);
	cr_assert_not_null(text, "%s", strerror(errno));
	fd = open(P("web/info"), O_RDONLY);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert_neq(map, MAP_FAILED, "mmap: %s", strerror(errno));
	cr_expect(memcmp(map, text, len) == 0, "the mapping differs from read");
	munmap(map, len);
	close(fd);
	free(text);
}

struct reader {
	char path[160];             /* P() is not for threads */
	int reads, bad;
	char last_bad[512];
	volatile int *stop;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;
	const char *tail = "metadata.sbxfs.name=web\n";

	while (!*r->stop) {
		size_t len;
		char *text = slurp(r->path, &len);
		bool ok = text && strlen(text) == len && len > strlen(tail) &&
			  strcmp(text + len - strlen(tail), tail) == 0 &&
			  (strstr(text, "\nstate=paused\n") || strstr(text, "\nstate=running\n"));

		r->reads++;
		if (!ok) {
			r->bad++;
			snprintf(r->last_bad, sizeof(r->last_bad), "%zu bytes, %zu up to a NUL:\n%s",
				 text ? len : 0, text ? strlen(text) : 0, text ? text : strerror(errno));
		}
		free(text);
	}
	return NULL;
}

/* Readers racing state changes made through the mount (each one changes
 * info's content and length) always read one whole version: never a cut
 * line, a zero-padded tail or a mix. */
Test(kernel, readers_racing_changes_read_whole_versions, .init = setup, .fini = teardown,
     .timeout = 120)
{
	volatile int stop = 0;
	struct reader r[4];
	pthread_t t[4];
	int flips = 0, reads = 0;
	char *id = rest_create("base", "web", NULL), *state;

	cr_assert_not_null(id);
	refresh();
	for (int i = 0; i < 4; i++) {
		r[i] = (struct reader){ .stop = &stop };
		snprintf(r[i].path, sizeof(r[i].path), "%s/web/info", M.dir);
		cr_assert_eq(pthread_create(&t[i], NULL, read_loop, &r[i]), 0);
	}
	for (; flips < 60; flips++)
		cr_assert_eq(put(P("web/state"), flips % 2 ? "running\n" : "paused\n"), 0,
			     "flip %d: %s", flips, strerror(errno));
	stop = 1;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		reads += r[i].reads;
		cr_expect_eq(r[i].bad, 0, "reader %d: %d of %d reads broken, e.g.\n%s", i,
			     r[i].bad, r[i].reads, r[i].last_bad);
	}
	cr_expect_gt(reads, 0);
	/* The last flip (running) is what the backend has. */
	state = rest_field(id, "state");
	cr_expect_str_eq(state, "running");
	free(state);
	free(id);
}

/* The attributes listings handed the kernel go with a refresh, for the
 * sandbox under the root and under .sbxfs/templates alike: a sandbox killed
 * elsewhere is gone for stat at once, not after cache_ttl. */
Test(kernel, refresh_drops_listed_attributes_everywhere, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "web", NULL), path[96];
	struct stat st;

	cr_assert_not_null(id);
	refresh();
	cr_assert_eq(sh("ls -l \"$MNT\" \"$MNT/.sbxfs/templates/base\" > /dev/null"), 0);
	cr_assert_eq(stat(P("web"), &st), 0, "%s", strerror(errno));
	cr_assert_eq(stat(P(".sbxfs/templates/base/web"), &st), 0, "%s", strerror(errno));
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	cr_assert_eq(rest("DELETE", path, NULL, NULL), 204);
	cr_assert_eq(rest_count(), 0);
	refresh();
	cr_expect_eq(stat(P("web"), &st), -1, "the killed sandbox still stats");
	cr_expect_eq(errno, ENOENT);
	cr_expect_eq(stat(P(".sbxfs/templates/base/web"), &st), -1,
		     "the killed sandbox still stats under its template");
	cr_expect_eq(errno, ENOENT);
	free(id);
}

/* A named sandbox is also reachable by its ID, and the kernel keeps that
 * entry as long as the one under the name: a refresh drops both, so once
 * the sandbox is gone elsewhere MOUNT/<ID> is ENOENT at once too. */
Test(kernel, refresh_drops_the_entry_under_the_id, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "named", NULL), path[96];
	struct stat st;

	cr_assert_not_null(id);
	refresh();
	cr_assert_eq(stat(P("named"), &st), 0, "%s", strerror(errno));
	cr_assert_eq(stat(P("%s", id), &st), 0, "%s", strerror(errno));
	cr_assert(S_ISDIR(st.st_mode));
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	cr_assert_eq(rest("DELETE", path, NULL, NULL), 204);
	refresh();
	cr_expect_eq(stat(P("%s", id), &st), -1, "the killed sandbox still stats under its ID");
	cr_expect_eq(errno, ENOENT);
	cr_expect_eq(stat(P("named"), &st), -1, "the killed sandbox still stats");
	cr_expect_eq(errno, ENOENT);
	free(id);
}
