/* envd on real bubblewrap sandboxes (the bwrap runtime, in-process):
 * files land in the sandbox root owned by the sandbox user, processes run
 * inside as user or root, symlinks made inside cannot reach the host.
 * /usr and the other read-only binds are seen as inside.  Skips where bwrap
 * cannot make namespaces. */
#include "envdutil.h"
#include "rtutil.h"

#include <criterion/criterion.h>
#include <stdbool.h>
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

/* Whether a ListDir reply lists an entry called `name`. */
static bool lists(const struct eresp *r, const char *name)
{
	json_t *j = eresp_json(r), *e;
	size_t i;
	bool found = false;

	json_array_foreach(json_object_get(j, "entries"), i, e)
		found |= strcmp(json_string_value(json_object_get(e, "name")) ?: "", name) == 0;
	json_decref(j);
	return found;
}

/* Files are read in the sandbox's own mount namespace: the host /usr bound
 * read-only inside is visible, as on hosted E2B, and stays read-only. */
Test(bwrap, the_read_only_usr_is_visible_and_stays_read_only)
{
	const char *raw[] = { "Content-Type: application/octet-stream", NULL };
	char code[64], p[PATH_MAX];
	struct eresp r;
	struct stat st;
	size_t n;

	erpc(&f, "ListDir", "{\"path\":\"/usr/bin\"}", &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect(lists(&r, "env") && lists(&r, "bash"), "%.300s", r.body);
	eresp_free(&r);
	char *host = eread_host("/usr/bin/env", &n);

	cr_assert(host);
	ereq(&f, "GET", "/files?path=/usr/bin/env", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 200);
	cr_expect(r.len == n && memcmp(r.body, host, n) == 0, "not the bound /usr/bin/env");
	free(host);
	eresp_free(&r);
	ereq(&f, "POST", "/files?path=/usr/x", raw, "hello", 5, &r);
	cr_expect_eq(r.status, 403, "%s", r.body);
	cr_expect(strstr(r.body, "\"message\"") && strstr(r.body, "/usr/x"), "%s", r.body);
	eresp_free(&r);
	/* Read-only for the sandbox's root too: the bind is, not the mode. */
	ereq(&f, "POST", "/files?path=/usr/x&username=root", raw, "hello", 5, &r);
	cr_expect_eq(r.status, 403, "%s", r.body);
	eresp_free(&r);
	erpc(&f, "MakeDir", "{\"path\":\"/usr/newdir\"}", &r);
	cr_expect_str_eq(eresp_code(&r, code), "permission_denied", "%s", r.body);
	eresp_free(&r);
	cr_expect_neq(lstat("/usr/x", &st), 0, "nothing made on the host");
	cr_expect_neq(lstat("/usr/newdir", &st), 0, "nothing made on the host");
	cr_expect_neq(lstat(ehost(&f, "/usr/x", p), &st), 0);
	cr_expect_neq(lstat(ehost(&f, "/usr/newdir", p), &st), 0);
}

/* `..` stops at the sandbox's "/"; absolute symlinks resolve in its
 * namespace; /proc's magic links (/proc/1/root, /proc/self/root) are
 * refused rather than followed out to another root. */
Test(bwrap, paths_and_links_stay_inside_the_sandbox)
{
	char out[4096], code[64];
	struct eresp r;

	ereq(&f, "GET", "/files?path=/home/user/../../../../etc/hostname", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 200);
	cr_expect(strncmp(r.body, f.id, strlen(f.id)) == 0, "not the sandbox's: %s", r.body);
	eresp_free(&r);
	ereq(&f, "GET", "/files?path=/../../../etc/shadow", NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 404, "%s", r.body);
	eresp_free(&r);
	json_decref(run("ln -s /proc/1/root/etc/shadow ~/p1; ln -s /proc/self/root/etc ~/pself; "
			"ln -s /usr/bin ~/ubin", NULL, out, sizeof(out)));
	const char *bad[] = { "/home/user/p1", "/home/user/pself/shadow", "/proc/1/root/etc/shadow",
			      "/proc/self/root/etc/shadow", "/home/user/pself/hostname" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ereq(&f, "GET", (snprintf(out, sizeof(out), "/files?path=%s", bad[i]), out), NULL,
		     NULL, 0, &r);
		/* 404, or envd's 500 for other errors (ELOOP: a magic link). */
		cr_expect(r.status == 404 || r.status == 500, "%s: %ld %s", bad[i], r.status,
			  r.body);
		cr_expect(!strstr(r.body, "root:"), "%s leaked a shadow file", bad[i]);
		eresp_free(&r);
	}
	erpc(&f, "ListDir", "{\"path\":\"/proc/1/root/etc\"}", &r);
	cr_expect_str_eq(eresp_code(&r, code), "failed_precondition", "%s", r.body);
	eresp_free(&r);
	erpc(&f, "ListDir", "{\"path\":\"/home/user/ubin\"}", &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect(lists(&r, "env"), "an absolute link resolves inside: %.300s", r.body);
	eresp_free(&r);
}

/* A frozen init still has its root: the runtime hands it out, and it shows
 * the sandbox's mounts (envd itself answers 502 for a paused sandbox). */
Test(bwrap, a_frozen_sandboxs_root_opens)
{
	struct stat st;
	int fd;

	cr_assert_eq(rt_freeze(rt, f.id), 0);
	fd = rt_root_open(rt, f.id);
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	cr_expect_eq(fstatat(fd, "usr/bin/env", &st, 0), 0);
	cr_expect_eq(fstatat(fd, "home/user", &st, 0), 0);
	close(fd);
	cr_expect_eq(rt_thaw(rt, f.id), 0);
}
