/* docs/recipes.md, executed: every fenced sh block is marked
 * <!-- recipe: NAME --> and run here with /bin/sh from the root of a real
 * mount, against sandboxes seeded through the REST API; the effect is
 * checked through the REST API again. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mnt.h"
#include "model/values.h"

static const char *const tested[] = {
	"expiring", "extend-tagged", "pause-idle", "kill-paused", "watch", "wait-change",
};

static char *recipes_text(void)
{
	const char *path = getenv("SBXFS_RECIPES");
	char *t;

	cr_assert(path && *path, "SBXFS_RECIPES is not set");
	t = slurp(path, NULL);
	cr_assert_not_null(t, "%s: %s", path, strerror(errno));
	return t;
}

/* The body of the block marked NAME (malloc'd). */
static char *recipe(const char *name)
{
	char *text = recipes_text(), marker[96], *p, *end, *body;

	snprintf(marker, sizeof(marker), "<!-- recipe: %s -->\n```sh\n", name);
	p = strstr(text, marker);
	cr_assert_not_null(p, "no recipe %s in docs/recipes.md", name);
	p += strlen(marker);
	end = strstr(p, "\n```");
	cr_assert_not_null(end, "recipe %s is not closed", name);
	body = strndup(p, (size_t)(end - p) + 1);
	free(text);
	return body;
}

/* Writes the recipe to a script; its path in a static buffer. */
static const char *script(const char *name)
{
	static char path[160];
	char *body = recipe(name);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.sh", M.tmp, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(body, f);
	fclose(f);
	free(body);
	return path;
}

/* Runs recipe NAME with /bin/sh in the mount; its stdout (malloc'd) in
 * *out; fails the test on anything on stderr. */
static int run(const char *name, char **out)
{
	char outf[192], errf[192], *err;
	int st;

	snprintf(outf, sizeof(outf), "%s/%s.out", M.tmp, name);
	snprintf(errf, sizeof(errf), "%s/%s.err", M.tmp, name);
	/* Seeded through REST: let the mount see it now. */
	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	st = sh("cd \"$MNT\" && /bin/sh '%s' > '%s' 2> '%s'", script(name), outf, errf);
	err = slurp(errf, NULL);
	cr_expect(err && err[0] == '\0', "recipe %s wrote to stderr:\n%s", name, err);
	free(err);
	*out = slurp(outf, NULL);
	cr_assert_not_null(*out);
	return st;
}

/* A sandbox named name with timeout secs, optional metadata, paused or
 * not; its ID (malloc'd). */
static char *seed(const char *name, unsigned secs, const char *meta, bool paused)
{
	char *id = rest_create("base", name, meta);
	char path[128], body[64];

	snprintf(body, sizeof(body), "{\"timeout\":%u}", secs);
	snprintf(path, sizeof(path), "/sandboxes/%s/timeout", id);
	cr_assert_eq(rest("POST", path, body, NULL), 204);
	if (paused) {
		snprintf(path, sizeof(path), "/sandboxes/%s/pause", id);
		cr_assert_eq(rest("POST", path, NULL, NULL), 204);
	}
	return id;
}

static char *state_of(const char *id)
{
	char *s = rest_field(id, "state");

	return s ? s : strdup("gone");
}

static void setup(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 2 });
}

static void teardown(void)
{
	mnt_stop();
}

Test(recipes, every_block_is_marked_and_tested)
{
	char *text = recipes_text();
	int blocks = 0, marked = 0;

	for (char *p = strstr(text, "```sh\n"); p; p = strstr(p + 1, "```sh\n")) {
		const char *line = p - 1;
		bool known = false;

		blocks++;
		while (line > text && line[-1] != '\n')
			line--;
		for (size_t i = 0; i < sizeof(tested) / sizeof(tested[0]); i++) {
			char m[96];

			snprintf(m, sizeof(m), "<!-- recipe: %s -->\n", tested[i]);
			known = known || strncmp(line, m, strlen(m)) == 0;
		}
		cr_expect(known, "an sh block without a tested marker:\n%.80s", line);
		marked += known;
	}
	cr_expect_eq(blocks, (int)(sizeof(tested) / sizeof(tested[0])));
	cr_expect_eq(marked, blocks);
	free(text);
}

Test(recipes, expiring, .init = setup, .fini = teardown)
{
	char *a = seed("a", 100, NULL, false), *b = seed("b", 50, NULL, false);
	char *c = seed("c", 1000, NULL, false), *d = seed("d", 60, NULL, true);
	char *out, first[64], second[64], name1[64], name2[64];
	unsigned long left1, left2;
	time_t end1 = 0, end2 = 0;

	cr_assert_eq(run("expiring", &out), 0);
	cr_assert_eq(sscanf(out, "%63s %lu %63s\n%63s %lu %63s", first, &left1, name1, second,
			    &left2, name2), 6, "output:\n%s", out);
	cr_expect_str_eq(name1, "b", "%s", out);
	cr_expect_str_eq(name2, "a", "%s", out);
	cr_expect_null(strstr(out, " c\n"), "1000 s left is not expiring:\n%s", out);
	cr_expect_null(strstr(out, " d\n"), "paused is not expiring:\n%s", out);
	cr_expect_eq(strchr(strchr(strchr(out, '\n') + 1, '\n') + 1, '\n'), NULL, "%s", out);
	/* The end times are the server's. */
	cr_assert_eq(sbx_parse_time(first, &end1), 0, "%s", first);
	cr_assert_eq(sbx_parse_time(second, &end2), 0, "%s", second);
	cr_expect_eq(end1, rest_end_at(b));
	cr_expect_eq(end2, rest_end_at(a));
	cr_expect_leq(left1, 50);
	free(out);
	free(a), free(b), free(c), free(d);
}

Test(recipes, extend_tagged, .init = setup, .fini = teardown)
{
	char *x = seed("x", 300, "\"owner\":\"ci\"", false);
	char *y = seed("y", 300, "\"owner\":\"ci\"", true);
	char *z = seed("z", 300, "\"owner\":\"dev\"", false);
	char *w = seed("w", 300, NULL, false);
	char *out;
	time_t now = time(NULL);

	cr_assert_eq(run("extend-tagged", &out), 0);
	cr_expect_str_eq(out, "");
	cr_expect_geq(rest_end_at(x), now + 3600 - 5);
	cr_expect_leq(rest_end_at(x), now + 3600 + 30);
	cr_expect_geq(rest_end_at(y), now + 3600 - 5, "a paused tagged sandbox too");
	cr_expect_leq(rest_end_at(z), now + 300 + 30, "owner=dev was extended");
	cr_expect_leq(rest_end_at(w), now + 300 + 30, "untagged was extended");
	free(out);
	free(x), free(y), free(z), free(w);
}

Test(recipes, pause_idle, .init = setup, .fini = teardown)
{
	char *p1 = seed("p1", 60, NULL, false), *p2 = seed("p2", 3000, NULL, false);
	char *p3 = seed("p3", 30, NULL, true);
	char *out, *s1, *s2, *s3;

	cr_assert_eq(run("pause-idle", &out), 0);
	s1 = state_of(p1);
	s2 = state_of(p2);
	s3 = state_of(p3);
	cr_expect_str_eq(s1, "paused", "60 s left is idle");
	cr_expect_str_eq(s2, "running", "3000 s left is not idle");
	cr_expect_str_eq(s3, "paused");
	free(out);
	free(s1), free(s2), free(s3);
	free(p1), free(p2), free(p3);
}

Test(recipes, kill_paused, .init = setup, .fini = teardown)
{
	char *k1 = seed("k1", 300, NULL, true), *k2 = seed("k2", 300, NULL, true);
	char *k3 = seed("k3", 300, NULL, false);
	char path[128], *out;

	cr_assert_eq(run("kill-paused", &out), 0);
	snprintf(path, sizeof(path), "/sandboxes/%s", k1);
	cr_expect_eq(rest("GET", path, NULL, NULL), 404);
	snprintf(path, sizeof(path), "/sandboxes/%s", k2);
	cr_expect_eq(rest("GET", path, NULL, NULL), 404);
	snprintf(path, sizeof(path), "/sandboxes/%s", k3);
	cr_expect_eq(rest("GET", path, NULL, NULL), 200);
	cr_expect_eq(rest_count(), 1);
	free(out);
	free(k1), free(k2), free(k3);
}

static bool have(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null", prog);
	return sh("%s", cmd) == 0;
}

/* watch needs a terminal: script(1) gives it one. */
static int run_in_tty(const char *name, unsigned secs, char **out)
{
	char outf[192];
	int st;

	snprintf(outf, sizeof(outf), "%s/%s.tty", M.tmp, name);
	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	st = sh("cd \"$MNT\" && TERM=vt100 timeout %u script -qefc '/bin/sh %s' /dev/null "
		"> '%s' 2>&1 < /dev/null", secs, script(name), outf);
	*out = slurp(outf, NULL);
	cr_assert_not_null(*out);
	return st;
}

Test(recipes, watch, .init = setup, .fini = teardown)
{
	char *web, *out, *end;

	if (!have("watch") || !have("script"))
		cr_skip_test("watch (procps) or script (bsdutils) is not installed");
	web = seed("web", 600, NULL, false);
	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	end = slurp(P("web/end_at"), NULL);
	cr_assert_not_null(end);
	end[strcspn(end, "\n")] = '\0';
	cr_expect_eq(run_in_tty("watch", 3, &out), 124, "watch should run until stopped");
	cr_expect(strstr(out, "running"), "the screen:\n%s", out);
	cr_expect(strstr(out, end), "no end time %s on the screen:\n%s", end, out);
	free(out);
	free(end);
	free(web);
}

struct later {
	const char *id;
	unsigned ms;
};

static void *pause_later(void *arg)
{
	const struct later *l = arg;
	char path[128];

	usleep(l->ms * 1000);
	snprintf(path, sizeof(path), "/sandboxes/%s/pause", l->id);
	return (void *)(intptr_t)rest("POST", path, NULL, NULL);
}

Test(recipes, wait_change, .init = setup, .fini = teardown)
{
	char *web, *out, *state;
	struct later l;
	pthread_t th;
	void *st = NULL;
	time_t t0;

	if (!have("watch") || !have("script"))
		cr_skip_test("watch (procps) or script (bsdutils) is not installed");
	web = seed("web", 600, NULL, false);
	l = (struct later){ .id = web, .ms = 1500 };
	t0 = time(NULL);
	cr_assert_eq(pthread_create(&th, NULL, pause_later, &l), 0);
	cr_expect_eq(run_in_tty("wait-change", 20, &out), 0, "watch -g did not end:\n%s", out);
	pthread_join(th, &st);
	cr_expect_eq((long)(intptr_t)st, 204);
	cr_expect_geq(time(NULL) - t0, 1, "returned before the change");
	cr_expect(strstr(out, "web is now paused"), "output:\n%s", out);
	state = state_of(web);
	cr_expect_str_eq(state, "paused");
	free(state);
	free(out);
	free(web);
}
