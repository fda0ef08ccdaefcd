/* envd on real bubblewrap sandboxes (the bwrap runtime, in-process):
 * files land in the sandbox root owned by the sandbox user, processes run
 * inside as user or root, symlinks made inside cannot reach the host.
 * Skips where bwrap cannot make namespaces. */
#include "envdutil.h"
#include "rtutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct efix f;
static struct rt *rt;
static char state[64];

static void setup(void)
{
	struct rt_config cfg = { .kind = RT_BWRAP, .state_dir = state };
	char *err = NULL;

	rtu_require_bwrap();
	snprintf(state, sizeof(state), "/tmp/sbxd-envd-rt-XXXXXX");
	cr_assert(mkdtemp(state));
	rt = rt_new(&cfg, &err);
	cr_assert(rt, "rt_new: %s", err ? err : "?");
	efix_start_rt(&f, rt, state);
}

static void teardown(void)
{
	char cmd[128];

	if (!rt)
		return;
	efix_stop(&f);
	rt_free(rt);
	rt = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(bwrap, .init = setup, .fini = teardown, .timeout = 90);

/* Runs `cmd` with bash -l -c through Start; stdout into out. */
static json_t *run(const char *cmd, const char *user, char *out, size_t outlen)
{
	json_t *q = json_pack("{s:{s:s, s:[s,s,s]}, s:b}", "process", "cmd", "/bin/bash", "args",
			      "-l", "-c", cmd, "stdin", 0);
	char *js = json_dumps(q, JSON_COMPACT), body[4096], auth[64];
	size_t n = strlen(js);
	const char *h[] = { "Content-Type: application/connect+json", auth, NULL };
	struct eresp r;

	snprintf(auth, sizeof(auth), "%s", user ? "Authorization: Basic cm9vdDo=" : "X-User: -");
	body[0] = 0, body[1] = (char)(n >> 24), body[2] = (char)(n >> 16);
	body[3] = (char)(n >> 8), body[4] = (char)n;
	memcpy(body + 5, js, n);
	free(js);
	json_decref(q);
	ereq(&f, "POST", "/process.Process/Start", h, body, n + 5, &r);
	cr_assert_eq(r.status, 200);
	json_t *end = NULL;
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i + 5 <= r.len; ) {
		const unsigned char *b = (const unsigned char *)r.body + i;
		size_t k = (size_t)b[1] << 24 | (size_t)b[2] << 16 | (size_t)b[3] << 8 | b[4];
		json_t *m = json_loadb((const char *)b + 5, k, 0, NULL);
		json_t *ev = json_object_get(m, "event");
		const char *d = json_string_value(json_object_get(json_object_get(ev, "data"),
								 "stdout"));

		if (d)
			o += ebase64_decode(d, out + o, outlen - 1 - o);
		if (json_object_get(ev, "end") || (b[0] == 2 && !end))
			end = json_incref(b[0] == 2 ? m : json_object_get(ev, "end"));
		json_decref(m);
		i += 5 + k;
	}
	out[o] = '\0';
	eresp_free(&r);
	return end;
}

Test(bwrap, commands_run_inside_as_the_user)
{
	char out[4096];

	json_decref(run("whoami; pwd; echo $HOME", NULL, out, sizeof(out)));
	cr_expect_str_eq(out, "user\n/home/user\n/home/user\n");
	json_decref(run("whoami; pwd", "root", out, sizeof(out)));
	cr_expect_str_eq(out, "root\n/root\n");
	json_t *end = run("exit 3", NULL, out, sizeof(out));

	cr_expect_eq(json_integer_value(json_object_get(end, "exitCode")), 3);
	json_decref(end);
}

Test(bwrap, files_are_the_sandboxs)
{
	char out[4096], p[PATH_MAX];
	struct eresp r;
	struct stat st;
	const char *raw[] = { "Content-Type: application/octet-stream", NULL };
	uid_t uid;
	gid_t gid;
	const char *home;

	ereq(&f, "POST", "/files?path=/home/user/from-envd.txt", raw, "hello", 5, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	eresp_free(&r);
	json_decref(run("cat ~/from-envd.txt; stat -c %U ~/from-envd.txt", NULL, out,
			sizeof(out)));
	cr_expect_str_eq(out, "hellouser\n");
	cr_assert_eq(rt_user(rt, f.id, "user", &uid, &gid, &home), 0);
	cr_assert_eq(stat(ehost(&f, "/home/user/from-envd.txt", p), &st), 0);
	cr_expect_eq(st.st_uid, uid, "owned by the sandbox user's host uid");
	json_decref(run("echo made inside > ~/inside.txt; ln -s / ~/slash; "
			"ln -s /etc/shadow ~/shadow", NULL, out, sizeof(out)));
	ereq(&f, "GET", "/files?path=/home/user/inside.txt", NULL, NULL, 0, &r);
	cr_expect_str_eq(r.body, "made inside\n");
	eresp_free(&r);
	/* The host's /etc/shadow exists; the sandbox's does not. */
	ereq(&f, "GET", "/files?path=/home/user/shadow", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 404, "%s", r.body);
	eresp_free(&r);
	ereq(&f, "GET", "/files?path=/home/user/slash/etc/hostname", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 200);
	cr_expect(strncmp(r.body, f.id, strlen(f.id)) == 0, "not the host's hostname: %s", r.body);
	eresp_free(&r);
}
