/* MOUNT/<sandbox>/procs/ with 200 MiB of binary output: read back
 * through stdout and checked by its sha256 against the bytes the
 * process also wrote to a file, fetched through envd (GET /files), not
 * the mount.  Suite 'big' (some 600 MiB of temporary disk): not run
 * under the sanitizers or valgrind. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fsfix.h"

static char *id;

/* The spool must hold all of it: the default bound (64 MiB) would drop
 * the oldest output. */
static void setup(void)
{
	if (strcmp(fsfix_runtime(), "bwrap") != 0)
		return;
	fsfix_start("proc_output_max=256M");
	id = fsfix_sandbox("box", "py3tpl");
}

static void teardown(void)
{
	if (id)
		fsfix_stop();
	free(id);
	id = NULL;
}

TestSuite(procsbig, .init = setup, .fini = teardown, .timeout = 300);

Test(procsbig, a_200_mib_binary_output_matches_its_sha256)
{
	char *b;

	if (id == NULL)
		cr_skip_test("bubblewrap cannot run here: no processes");
	cr_assert_eq(sh("mkdir $MNT/box/procs/big && echo 'head -c 200M /dev/urandom | "
			"tee /tmp/out.bin' > $MNT/box/procs/big/cmd"), 0);
	b = slurp(P("/box/procs/big/exit"), NULL);
	cr_assert_not_null(b);
	cr_assert_str_eq(b, "0\n");
	free(b);
	b = slurp(P("/box/procs/big/status"), NULL);
	cr_assert_not_null(b);
	cr_assert_str_eq(b, "exited 0\n");
	free(b);
	cr_assert_eq(eget_to(id, "/tmp/out.bin", P("/../procs-big.remote")), 200);
	cr_assert_eq(sh("test $(stat -c %%s $MNT/../procs-big.remote) = 209715200 && "
			"test $(stat -c %%s $MNT/box/procs/big/stdout) = 209715200 && "
			"a=$(sha256sum < $MNT/box/procs/big/stdout) && "
			"b=$(sha256sum < $MNT/../procs-big.remote) && test \"$a\" = \"$b\""), 0);
	cr_assert_eq(sh("rm -f $MNT/../procs-big.remote"), 0);
}
