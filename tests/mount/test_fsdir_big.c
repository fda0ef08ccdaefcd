/* MOUNT/<sandbox>/fs/ with a 1 GiB file: in with cp, checked by its
 * sha256 through envd, back out with cp.  Suite 'big' (slow, and some
 * 4 GiB of temporary disk): not run under the sanitizers or valgrind. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

TestSuite(fsbig, .init = setup, .fini = teardown, .timeout = 600);

Test(fsbig, a_1_gib_file_round_trips_with_its_sha256)
{
	cr_assert_eq(sh("dd if=/dev/urandom of=$MNT/../big bs=1M count=1024 iflag=fullblock "
			"status=none && sha256sum < $MNT/../big > $MNT/../big.sum"), 0);
	cr_assert_eq(sh("cp $MNT/../big $MNT/box/fs/tmp/big"), 0);
	/* Through envd: the bytes the sandbox holds. */
	cr_assert_eq(eget_to(id, "/tmp/big", P("/../big.remote")), 200);
	cr_assert_eq(sh("test \"$(sha256sum < $MNT/../big.remote)\" = \"$(cat $MNT/../big.sum)\" "
			"&& rm $MNT/../big.remote"), 0);
	/* And back out through the mount, with the page cache dropped. */
	cr_assert_eq(sh("echo 3 > /proc/sys/vm/drop_caches; cp $MNT/box/fs/tmp/big $MNT/../big.back "
			"&& test \"$(sha256sum < $MNT/../big.back)\" = \"$(cat $MNT/../big.sum)\""), 0);
	cr_assert_eq(sh("rm -f $MNT/../big $MNT/../big.back"), 0);
}
