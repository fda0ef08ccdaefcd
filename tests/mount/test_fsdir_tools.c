/* MOUNT/<sandbox>/fs/ under real tools (cp, tar, git, sqlite3, sha256sum)
 * and its failures (a paused or killed sandbox, a full disk at close),
 * with every effect checked through envd directly (fsfix.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsfix.h"

static char *id;

static void setup(void)
{
	id = fsfix_start_box();
}

static void teardown(void)
{
	fsfix_stop_box(&id);
}

/* Saves p of the sandbox, fetched through envd, to the local file out. */
static void fetch_to(const char *p, const char *out)
{
	long status = eget_to(id, p, out);

	cr_assert_eq(status, 200, "GET %s: %ld", p, status);
}

TestSuite(fstools, .init = setup, .fini = teardown, .timeout = 300);

Test(fstools, cp_r_of_a_tree_in_and_cp_a_out_keep_every_byte)
{
	cr_assert_eq(sh("mkdir -p $MNT/../src/a/b && seq 1 5000 > $MNT/../src/a/nums && "
			"head -c 300000 /dev/urandom > $MNT/../src/a/b/rand && "
			"echo hi > $MNT/../src/top && : > $MNT/../src/a/empty"), 0);
	cr_assert_eq(sh("cp -r $MNT/../src $MNT/box/fs/tmp/tree"), 0);
	/* Through envd: each file as sent. */
	fetch_to("/tmp/tree/a/b/rand", P("/../rand.remote"));
	cr_assert_eq(sh("cmp $MNT/../src/a/b/rand $MNT/../rand.remote"), 0);
	cr_assert(eexists(id, "/tmp/tree/a/empty"));
	cr_assert_eq(sh("cp -a $MNT/box/fs/tmp/tree $MNT/../back && diff -r $MNT/../src "
			"$MNT/../back"), 0);
}

Test(fstools, tar_x_into_fs)
{
	cr_assert_eq(sh("mkdir -p $MNT/../t/d && seq 1 100 > $MNT/../t/d/f && echo x > "
			"$MNT/../t/g && tar -C $MNT/../t -cf $MNT/../t.tar ."), 0);
	cr_assert_eq(sh("mkdir $MNT/box/fs/tmp/x && tar -C $MNT/box/fs/tmp/x -xf $MNT/../t.tar "
			"-m --no-same-owner --no-same-permissions"), 0);
	fetch_to("/tmp/x/d/f", P("/../f.remote"));
	cr_assert_eq(sh("cmp $MNT/../t/d/f $MNT/../f.remote"), 0);
}

Test(fstools, git_init_and_commit_inside_fs)
{
	cr_assert_eq(sh("cd $MNT/box/fs/home/user && mkdir repo && cd repo && "
			"git init -q && echo hi > README && git add README && "
			"git -c user.name=t -c user.email=t@t commit -qm first >/dev/null 2>&1"), 0);
	cr_assert(eexists(id, "/home/user/repo/.git/HEAD"));
	/* The repository as the sandbox has it, checked by git outside. */
	cr_assert_eq(sh("test \"$(git -C $MNT/box/fs/home/user/repo log --format=%%s)\" = first"),
		     0);
}

Test(fstools, sqlite3_database_made_in_fs)
{
	cr_assert_eq(sh("sqlite3 $MNT/box/fs/tmp/db.sqlite "
			"'create table t(a); insert into t values (42);'"), 0);
	fetch_to("/tmp/db.sqlite", P("/../db.remote"));
	cr_assert_eq(sh("test \"$(sqlite3 $MNT/../db.remote 'select a from t')\" = 42"), 0);
}

Test(fstools, a_256_mib_file_round_trips_with_its_sha256)
{
	cr_assert_eq(sh("head -c 268435456 /dev/urandom > $MNT/../big && "
			"cp $MNT/../big $MNT/box/fs/tmp/big"), 0);
	fetch_to("/tmp/big", P("/../big.remote"));
	cr_assert_eq(sh("test \"$(sha256sum < $MNT/../big)\" = "
			"\"$(sha256sum < $MNT/../big.remote)\""), 0);
	cr_assert_eq(sh("echo 3 > /proc/sys/vm/drop_caches; test \"$(sha256sum < $MNT/../big)\" = "
			"\"$(sha256sum < $MNT/box/fs/tmp/big)\""), 0);
}

static void *writer(void *arg)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "seq 1 20000 > $MNT/box/fs/tmp/w%ld", (long)(intptr_t)arg);
	return (void *)(intptr_t)sh("%s", cmd);
}

Test(fstools, concurrent_writers_to_different_files)
{
	pthread_t t[4];
	void *rc;

	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &rc);
		cr_assert_eq((intptr_t)rc, 0);
	}
	cr_assert_eq(sh("seq 1 20000 > $MNT/../w"), 0);
	for (int i = 0; i < 4; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/tmp/w%d", i);
		fetch_to(p, P("/../w.remote"));
		cr_assert_eq(sh("cmp $MNT/../w $MNT/../w.remote"), 0, "%s", p);
	}
}

Test(fstools, a_connection_dropped_mid_upload_fails_close_and_leaves_nothing)
{
	char *buf = malloc(4 << 20);
	int fd;

	memset(buf, 'u', 4 << 20);
	/* The old content must survive the failed replacement. */
	cr_assert_eq(eput(id, "/tmp/cut.bin", "old\n"), 200);
	cr_assert_eq(rest("POST", "/sbxd/faults",
			  "{\"path_prefix\":\"/files\",\"cut_after_bytes\":1048576}", NULL), 200);
	fd = open(P("/box/fs/tmp/cut.bin"), O_WRONLY | O_TRUNC);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_eq(write(fd, buf, 4 << 20), 4 << 20);
	errno = 0;
	cr_assert_eq(close(fd), -1);
	cr_assert_eq(errno, EIO, "%s", strerror(errno));
	cr_assert_eq(rest("DELETE", "/sbxd/faults", NULL, NULL), 204);
	free(buf);
	/* Through envd: the old file whole, no temporary left beside it. */
	size_t len;
	long status;
	char *b = eget(id, "/tmp/cut.bin", &len, &status);

	cr_assert_eq(status, 200);
	cr_assert_str_eq(b, "old\n");
	free(b);
	eno_upload_temp(id, "/tmp");
}

Test(fstools, rsync_a_of_a_tree_in_and_out)
{
	if (system("rsync --version >/dev/null 2>&1") != 0)
		cr_skip_test("rsync is not installed: the rsync round trip is not tested");
	cr_assert_eq(sh("mkdir -p $MNT/../rs/a/b && seq 1 3000 > $MNT/../rs/a/nums && "
			"head -c 200000 /dev/urandom > $MNT/../rs/a/b/rand && "
			"echo top > $MNT/../rs/top && : > $MNT/../rs/a/empty"), 0);
	/* Without times: envd cannot set them, so utimensat is EPERM and
	 * rsync -a alone ends with code 23 (the files all sent). */
	cr_assert_eq(sh("rsync -a $MNT/../rs/ $MNT/box/fs/tmp/rs/ 2>/dev/null; test $? = 23"), 0);
	cr_assert_eq(sh("rsync -a --no-times $MNT/../rs/ $MNT/box/fs/tmp/rs/"), 0);
	/* Through envd: each file as sent, and nothing of rsync's temporaries. */
	fetch_to("/tmp/rs/a/b/rand", P("/../rand.remote"));
	cr_assert_eq(sh("cmp $MNT/../rs/a/b/rand $MNT/../rand.remote"), 0);
	fetch_to("/tmp/rs/a/nums", P("/../nums.remote"));
	cr_assert_eq(sh("cmp $MNT/../rs/a/nums $MNT/../nums.remote"), 0);
	cr_assert(eexists(id, "/tmp/rs/a/empty"));
	json_t *dir = NULL;

	cr_assert_eq(erpc(id, "ListDir", "{\"path\":\"/tmp/rs/a\",\"depth\":1}", &dir), 200);
	cr_assert_eq(json_array_size(json_object_get(dir, "entries")), 3);
	json_decref(dir);
	/* And back out, with everything. */
	cr_assert_eq(sh("rsync -a $MNT/box/fs/tmp/rs/ $MNT/../rs.back/ && "
			"diff -r $MNT/../rs $MNT/../rs.back"), 0);
}
