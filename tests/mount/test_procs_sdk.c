/* MOUNT/<sandbox>/procs/ beside the official E2B SDK and CLI on the same
 * sbxd: background commands the SDK and `e2b sandbox exec` start appear
 * in procs/, the names in procs/ are the processes `commands.list()`
 * gives, and a signal through the mount ends the SDK's command, as the
 * SDK then sees.  Skipped when the SDKs are not installed (npm ci
 * --prefix tests/sdk) or bubblewrap cannot run. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	/* The SDK reaches the same sbxd as the mount: its REST API and the
	 * sandboxes' envd on one URL (-o sandbox_url). */
	setenv("E2B_API_URL", M.url, 1);
	setenv("E2B_SANDBOX_URL", M.url, 1);
	setenv("E2B_API_KEY", M.key, 1);
	setenv("E2B_DEBUG", "", 1);
}

static void teardown(void)
{
	if (id)
		fsfix_stop();
	free(id);
	id = NULL;
}

TestSuite(procs_sdk, .init = setup, .fini = teardown, .timeout = 120);

/* Whether the SDK's list has a process of this pid: polls for up to
 * 10 s (each look starts node, some 0.5 s) until it says want. */
static bool sdk_lists_until(const char *pid, bool want)
{
	bool has = !want;

	for (int i = 0; i < 20 && has != want; i++) {
		if (i)
			clock_sleep_ms(300);
		has = sh("timeout 20 node $SDK_DIR/procs-mount.mjs list %s | cut -d' ' -f2 | grep -qx %s",
			 id, pid) == 0;
	}
	return has;
}

Test(procs_sdk, the_sdk_the_cli_and_the_mount_see_one_process_list)
{
	char *b, pid[32];

	if (id == NULL)
		cr_skip_test("bubblewrap cannot run here: no processes");
	if (getenv("SDK_DIR") == NULL || sh("test -d $SDK_DIR/node_modules/e2b && "
					    "test -d $SDK_DIR/node_modules/@e2b/cli && "
					    "command -v node >/dev/null") != 0)
		cr_skip_test("SDKs not installed (npm ci --prefix tests/sdk)");
	cr_assert_eq(sh("timeout 20 node $SDK_DIR/procs-mount.mjs start %s 'sleep 30' "
			"> $MNT/../sdk.pid", id), 0);
	b = slurp(P("/../sdk.pid"), NULL);
	cr_assert_not_null(b);
	cr_assert_gt(atoi(b), 0, "pid '%s'", b);
	snprintf(pid, sizeof(pid), "%d", atoi(b));
	free(b);
	/* The CLI forwards its stdin to the command: /dev/null, or it waits. */
	cr_assert_eq(sh("HOME=$MNT/.. NO_COLOR=1 timeout 20 node $SDK_DIR/node_modules/@e2b/cli/dist/"
			"index.js sandbox exec --background %s 'sleep 31' < /dev/null", id), 0);
	cr_assert_eq(sh("mkdir $MNT/box/procs/m && echo 'sleep 32' > $MNT/box/procs/m/cmd"), 0);
	/* Three processes, one list: procs/ names the SDK's by its pid. */
	cr_assert_eq(sh("ls $MNT/box/procs | grep -qx %s", pid), 0);
	b = slurp(P("/box/procs/%s/cmd", pid), NULL);
	cr_assert_not_null(b);
	cr_assert_str_eq(b, "sleep 30\n");
	free(b);
	cr_assert_eq(sh("ls $MNT/box/procs | sort > $MNT/../ls.mount && "
			"timeout 20 node $SDK_DIR/procs-mount.mjs list %s | cut -d' ' -f1 | sort "
			"> $MNT/../ls.sdk && "
			"test $(wc -l < $MNT/../ls.sdk) = 3 && cmp $MNT/../ls.mount $MNT/../ls.sdk", id),
		     0);
	cr_assert_eq(sh("grep -lx 'sleep 31' $MNT/box/procs/*/cmd | wc -l | grep -qx 1"), 0);
	/* A signal through the mount ends it, as the SDK sees. */
	cr_assert(sdk_lists_until(pid, true));
	cr_assert_eq(sh("echo TERM > $MNT/box/procs/%s/signal", pid), 0);
	cr_assert_not(sdk_lists_until(pid, false), "the SDK still lists %s", pid);
	cr_assert_eq(sh("rmdir $MNT/box/procs/m && for f in $MNT/box/procs/*/cmd; do "
			"grep -qx 'sleep 31' $f && echo KILL > ${f%%/cmd}/signal; done; "
			"rm -f $MNT/../sdk.pid $MNT/../ls.mount $MNT/../ls.sdk"), 0);
}
