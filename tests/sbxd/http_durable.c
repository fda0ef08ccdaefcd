/* Durability of the sbxd program: clients create, pause, resume, time out
 * and kill sandboxes concurrently while sbxd is killed with SIGKILL at a
 * random moment, 200 times; after each restart on the same --state-dir,
 * every acknowledged change is there, an acknowledged kill never comes back,
 * and a change in flight at the kill went one way or the other.  Also: a
 * full disk and a dead one (503, nothing changed), and the errors at start. */
#include "httputil.h"
#include "common/clock.h"
#include "common/rfc3339.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLIENTS 4
#define PER_CLIENT 6            /* live sandboxes a client keeps at most */
#define TRACKED 256             /* sandboxes a client follows in one round */
#define ROUNDS 200
#define SLACK_MS 1500           /* endAt vs the client's clock around the request */

static char dir[64], state[128], ready[96], errfile[96], mnt[96];
static pid_t child = -1;        /* the sbxd running, killed if a test fails */

static void mk(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sbxd-dur-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(errfile, sizeof(errfile), "%s/stderr", dir);
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
}

static void rm(void)
{
	char cmd[128];

	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	umount2(mnt, MNT_DETACH);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(durable, .init = mk, .fini = rm, .timeout = 150);

static pid_t spawn_only(void)
{
	const char *bin = getenv("SBXD_BIN");

	cr_assert_not_null(bin, "SBXD_BIN not set");
	unlink(ready);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fd, 2);
		setenv("SBXD_API_KEY", TEST_KEY, 1);
		/* The registry's durability, not the sandboxes': the record
		 * runtime keeps a kill at a random moment cheap (bwrap's
		 * restarts are tested in sbxd-http-runtime). */
		execl(bin, "sbxd", "--listen", "127.0.0.1:0", "--ready-file", ready,
		      "--state-dir", state, "--log-level", "warn", "--runtime", "record",
		      (char *)NULL);
		_exit(127);
	}
	return child = pid;
}

static pid_t spawn(struct tsrv *t)
{
	pid_t pid = spawn_only();

	for (int i = 0; i < 2000; i++) {
		char buf[32] = "";
		FILE *f = fopen(ready, "r");

		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		if (strchr(buf, '\n')) {
			snprintf(t->base, sizeof(t->base), "http://127.0.0.1:%d", atoi(buf));
			return pid;
		}
		usleep(2000);
	}
	cr_assert_fail("sbxd never became ready");
	return -1;
}

/* The kinds of change, each of which must be acknowledged before kills. */
enum kind { K_CREATE, K_PAUSE, K_RESUME, K_TIMEOUT, K_KILL, N_KINDS };
static const char *const kind_names[N_KINDS] = { "create", "pause", "resume", "timeout",
						 "kill" };

/* What a sandbox may look like: exists, paused, end within [lo, hi]. */
struct look { int exists, paused; int64_t lo, hi; };

struct sbx {
	char id[21];
	struct look cur;
	struct look alt;            /* the other outcome of a change in flight */
	int has_alt;
};

struct client {
	const struct tsrv *t;
	unsigned seed;
	struct sbx s[TRACKED];      /* killed ones too, until checked gone */
	int n;
	int unacked_creates;        /* creates in flight at a kill */
	int acks;
	int acked[N_KINDS];         /* acknowledged changes by kind */
	int failed;                 /* an unexpected reply: the test fails */
	char why[256];
};

static int request(struct client *c, const char *method, const char *path, const char *body,
		   long want, struct resp *r)
{
	http(c->t, method, path, TEST_KEY, body, r);
	if (r->curl_code != 0)
		return r->curl_code == CURLE_COULDNT_CONNECT ? -1 : -2;
	if (r->status != want) {
		snprintf(c->why, sizeof(c->why), "%s %s: %ld %s", method, path, r->status,
			 r->body ? r->body : "");
		c->failed = 1;
		return -1;
	}
	return 0;
}

/* One random change; returns -1 when the server is gone (or the reply was
 * wrong).  -2 from request(): sent, the outcome unknown. */
static int one_change(struct client *c)
{
	char path[96], body[64];
	struct resp r;
	int64_t t0 = clock_wall_ms();
	int op = (int)(rand_r(&c->seed) % 5), rc;
	unsigned timeout = 3600 + 100 * (rand_r(&c->seed) % 300);

	int live[TRACKED], nlive = 0;

	for (int i = 0; i < c->n; i++)
		if (c->s[i].cur.exists)
			live[nlive++] = i;
	if (c->n == TRACKED)
		return -1;
	if (nlive == 0 || (op == 0 && nlive < PER_CLIENT)) {
		snprintf(body, sizeof(body), "{\"templateID\":\"base\",\"timeout\":%u}", timeout);
		rc = request(c, "POST", "/sandboxes", body, 201, &r);
		if (rc == 0) {
			json_t *j = resp_json(&r);
			struct sbx *s = &c->s[c->n++];

			snprintf(s->id, sizeof(s->id), "%s",
				 json_string_value(json_object_get(j, "sandboxID")));
			s->cur = (struct look){ 1, 0, t0 + timeout * 1000LL,
						clock_wall_ms() + timeout * 1000LL };
			s->has_alt = 0;
			c->acked[K_CREATE]++;
			json_decref(j);
		} else if (rc == -2) {
			c->unacked_creates++;
		}
		resp_free(&r);
		return rc == 0 ? 0 : -1;
	}
	struct sbx *s = &c->s[live[rand_r(&c->seed) % (unsigned)nlive]];
	struct look next = s->cur;
	enum kind kind;
	if (op == 0 || op == 1) {
		if (s->cur.paused) {
			snprintf(path, sizeof(path), "/sandboxes/%s/resume", s->id);
			snprintf(body, sizeof(body), "{\"timeout\":%u}", timeout);
			rc = request(c, "POST", path, body, 201, &r);
			kind = K_RESUME;
			next.paused = 0;
			next.lo = t0 + timeout * 1000LL;
		} else {
			snprintf(path, sizeof(path), "/sandboxes/%s/pause", s->id);
			rc = request(c, "POST", path, NULL, 204, &r);
			kind = K_PAUSE;
			next.paused = 1;
		}
	} else if (op == 2 || op == 3) {
		snprintf(path, sizeof(path), "/sandboxes/%s/timeout", s->id);
		snprintf(body, sizeof(body), "{\"timeout\":%u}", timeout);
		rc = request(c, "POST", path, body, 204, &r);
		kind = K_TIMEOUT;
		next.lo = t0 + timeout * 1000LL;
	} else {
		snprintf(path, sizeof(path), "/sandboxes/%s", s->id);
		rc = request(c, "DELETE", path, NULL, 204, &r);
		kind = K_KILL;
		next.exists = 0;
	}
	if (next.lo != s->cur.lo)
		next.hi = clock_wall_ms() + timeout * 1000LL;
	resp_free(&r);
	if (rc == 0) {
		s->cur = next;
		c->acks++;
		c->acked[kind]++;
	} else if (rc == -2) {
		s->alt = next;
		s->has_alt = 1;
	}
	return rc == 0 ? 0 : -1;
}

static void *client_run(void *arg)
{
	struct client *c = arg;

	while (one_change(c) == 0)
		;
	return NULL;
}

static int look_matches(const struct look *l, const json_t *o)
{
	int64_t end;

	if (!o)
		return !l->exists;
	if (!l->exists || rfc3339_parse(json_string_value(json_object_get(o, "endAt")),
					     &end) < 0)
		return 0;
	int paused = strcmp(json_string_value(json_object_get(o, "state")), "paused") == 0;
	return paused == l->paused && end >= l->lo - SLACK_MS && end <= l->hi + SLACK_MS;
}

static json_t *find(json_t *list, const char *id)
{
	size_t i;
	json_t *o;

	json_array_foreach(list, i, o)
		if (strcmp(json_string_value(json_object_get(o, "sandboxID")), id) == 0)
			return o;
	return NULL;
}

/* Checks one client's sandboxes against the listing, settling changes that
 * were in flight, and drops the killed ones.  Returns how many listed
 * sandboxes it accounted for. */
static size_t check_client(struct client *c, json_t *list, int round)
{
	size_t seen = 0;
	int w = 0;

	for (int i = 0; i < c->n; i++) {
		struct sbx *s = &c->s[i];
		json_t *o = find(list, s->id);

		if (look_matches(&s->cur, o)) {
			s->has_alt = 0;
		} else if (s->has_alt && look_matches(&s->alt, o)) {
			s->cur = s->alt;
			s->has_alt = 0;
		} else {
			cr_assert_fail("round %d: %s is %s, acknowledged %s%s", round, s->id,
				       o ? json_string_value(json_object_get(o, "state")) : "gone",
				       s->cur.exists ? (s->cur.paused ? "paused" : "running") : "killed",
				       s->has_alt ? " (or the change in flight)" : "");
		}
		seen += o != NULL;
		if (s->cur.exists)
			c->s[w++] = *s;
	}
	c->n = w;
	return seen;
}

/* Kills the sandboxes of creates nobody heard back from. */
static void drop_strays(const struct tsrv *t, json_t *list, struct client *cl)
{
	size_t i;
	json_t *o;
	int mine;

	json_array_foreach(list, i, o) {
		const char *id = json_string_value(json_object_get(o, "sandboxID"));
		char path[64];
		struct resp r;

		mine = 0;
		for (int k = 0; k < CLIENTS && !mine; k++)
			for (int j = 0; j < cl[k].n && !mine; j++)
				mine = strcmp(cl[k].s[j].id, id) == 0;
		if (mine)
			continue;
		snprintf(path, sizeof(path), "/sandboxes/%s", id);
		http(t, "DELETE", path, TEST_KEY, NULL, &r);
		cr_assert_eq(r.status, 204);
		resp_free(&r);
	}
}

static void verify(const struct tsrv *t, struct client *cl, int round)
{
	struct resp r;
	int unacked = 0;
	size_t seen = 0;

	http(t, "GET", "/v2/sandboxes?limit=100", TEST_KEY, NULL, &r);
	cr_assert_eq(r.status, 200, "round %d: %s", round, r.body);
	json_t *list = resp_json(&r);
	resp_free(&r);
	for (int k = 0; k < CLIENTS; k++) {
		seen += check_client(&cl[k], list, round);
		unacked += cl[k].unacked_creates;
		cl[k].unacked_creates = 0;
	}
	cr_assert_leq(json_array_size(list) - seen, (size_t)unacked,
		      "round %d: %zu sandboxes nobody created", round, json_array_size(list) - seen);
	drop_strays(t, list, cl);
	json_decref(list);
}

Test(durable, kill9_after_acknowledged_changes)
{
	struct client cl[CLIENTS];
	struct tsrv t;
	unsigned seed = (unsigned)getpid();
	int acks = 0;

	memset(cl, 0, sizeof(cl));
	for (int k = 0; k < CLIENTS; k++) {
		cl[k].t = &t;
		cl[k].seed = seed + (unsigned)k;
	}
	for (int round = 0; round < ROUNDS; round++) {
		pthread_t th[CLIENTS];
		pid_t pid = spawn(&t);
		int st;

		if (round > 0)
			verify(&t, cl, round);
		for (int k = 0; k < CLIENTS; k++)
			cr_assert_eq(pthread_create(&th[k], NULL, client_run, &cl[k]), 0);
		usleep((useconds_t)(rand_r(&seed) % 40000));
		kill(pid, SIGKILL);
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		child = -1;
		for (int k = 0; k < CLIENTS; k++) {
			pthread_join(th[k], NULL);
			cr_assert_not(cl[k].failed, "round %d: %s", round, cl[k].why);
		}
	}
	int acked[N_KINDS] = { 0 };
	for (int k = 0; k < CLIENTS; k++) {
		acks += cl[k].acks;
		for (int i = 0; i < N_KINDS; i++)
			acked[i] += cl[k].acked[i];
	}
	pid_t pid = spawn(&t);
	verify(&t, cl, ROUNDS);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	child = -1;
	/* The loop tested something: changes were acknowledged across kills. */
	cr_expect_gt(acks, ROUNDS, "only %d acknowledged changes", acks);
	/* ... of every kind, so each was checked across restarts. */
	for (int i = 0; i < N_KINDS; i++)
		cr_expect_geq(acked[i], ROUNDS / 10, "only %d acknowledged %s changes", acked[i],
			      kind_names[i]);
	FILE *f = fopen(errfile, "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f))
		cr_expect_fail("sbxd said: %s", line);
	if (f)
		fclose(f);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* sbxd must refuse to start: exit 1, naming the database and the reason. */
static void expect_start_error(const char *reason)
{
	char db[160];
	int st;

	unlink(errfile);
	pid_t pid = spawn_only();
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	child = -1;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d", st);
	snprintf(db, sizeof(db), "%s/sbxd.db", state);
	cr_expect(strstr(slurp(errfile), db) != NULL, "no path in: %s", slurp(errfile));
	cr_expect(strstr(slurp(errfile), reason) != NULL, "no \"%s\" in: %s", reason,
		  slurp(errfile));
}

Test(durable, corrupt_database_stops_the_start)
{
	char db[160];
	FILE *f;

	cr_assert_eq(mkdir(state, 0700), 0);
	snprintf(db, sizeof(db), "%s/sbxd.db", state);
	f = fopen(db, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < 300; i++)
		fputs("no database here ", f);
	fclose(f);
	expect_start_error("file is not a database");
}

/* Mounts a tmpfs of `size` at mnt and points `state` into it; skips where
 * mounting is not allowed. */
static void mount_small(const char *size)
{
	char opts[32];

	cr_assert_eq(mkdir(mnt, 0700), 0);
	snprintf(opts, sizeof(opts), "size=%s", size);
	if (mount("tmpfs", mnt, "tmpfs", 0, opts) < 0)
		cr_skip_test("cannot mount a tmpfs (%s): not root?", strerror(errno));
	snprintf(state, sizeof(state), "%s/state", mnt);
}

Test(durable, read_only_state_dir_stops_the_start)
{
	struct tsrv t;

	mount_small("4m");
	/* A database with a sandbox in it, then the mount made read-only. */
	pid_t pid = spawn(&t);
	char id[21];
	create_sandbox(&t, "{\"templateID\":\"base\"}", id);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	child = -1;
	cr_assert_eq(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0, "%s",
		     strerror(errno));
	expect_start_error("read-only");
}

static void fill(const char *path)
{
	static char block[65536];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	while (write(fd, block, sizeof(block)) > 0)
		;
	while (write(fd, block, 512) > 0)
		;
	close(fd);
}

static long status_of(const struct tsrv *t, const char *method, const char *path,
		      const char *body)
{
	struct resp r;

	http(t, method, path, TEST_KEY, body, &r);
	if (r.status == 503)
		cr_expect(resp_is_error(&r), "503 without its JSON message: %s", r.body);
	resp_free(&r);
	return r.status;
}

static json_t *get(const struct tsrv *t, const char *path)
{
	struct resp r;

	http(t, "GET", path, TEST_KEY, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *j = resp_json(&r);
	resp_free(&r);
	return j;
}

Test(durable, disk_full_is_503_and_changes_nothing)
{
	struct sbxd_config cfg = { .state_dir = state };
	char id[21], path[64], filler[128], more[21], held[21], held_path[64];
	struct tsrv t;

	mount_small("1m");
	cfg.state_dir = state;
	tsrv_start(&t, &cfg);
	create_sandbox(&t, "{\"templateID\":\"base\",\"timeout\":600}", id);
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	json_t *before = get(&t, path);
	/* A paused one, for the resume. */
	create_sandbox(&t, "{\"templateID\":\"base\",\"timeout\":600}", held);
	snprintf(held_path, sizeof(held_path), "/sandboxes/%s/pause", held);
	cr_assert_eq(status_of(&t, "POST", held_path, NULL), 204);
	snprintf(held_path, sizeof(held_path), "/sandboxes/%s", held);
	json_t *held_before = get(&t, held_path);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	fill(filler);
	int logged = tsrv_complaints();

	char sub[96];
	cr_expect_eq(status_of(&t, "POST", "/sandboxes", "{\"templateID\":\"base\"}"), 503);
	snprintf(sub, sizeof(sub), "%s/pause", path);
	cr_expect_eq(status_of(&t, "POST", sub, NULL), 503);
	snprintf(sub, sizeof(sub), "%s/timeout", path);
	cr_expect_eq(status_of(&t, "POST", sub, "{\"timeout\":3000}"), 503);
	cr_expect_eq(status_of(&t, "DELETE", path, NULL), 503);
	snprintf(sub, sizeof(sub), "%s/resume", held_path);
	cr_expect_eq(status_of(&t, "POST", sub, "{\"timeout\":3000}"), 503);
	cr_expect_eq(tsrv_complaints() - logged, 5, "not one error line per failed change");
	/* Memory too: the same two sandboxes, unchanged. */
	json_t *now = get(&t, path), *list = get(&t, "/v2/sandboxes");
	cr_expect(json_equal(before, now), "changed by a failed commit");
	cr_expect_eq(json_array_size(list), 2);
	json_decref(now);
	now = get(&t, held_path);
	cr_expect(json_equal(held_before, now), "resumed by a failed commit");
	json_decref(now);
	json_decref(held_before);
	json_decref(list);

	/* Space again: changes work and a restart shows exactly them. */
	cr_assert_eq(unlink(filler), 0);
	snprintf(sub, sizeof(sub), "%s/pause", path);
	cr_expect_eq(status_of(&t, "POST", sub, NULL), 204);
	create_sandbox(&t, "{\"templateID\":\"base\"}", more);
	tsrv_stop(&t);
	tsrv_start(&t, &cfg);
	list = get(&t, "/v2/sandboxes");
	cr_expect_eq(json_array_size(list), 3);
	now = get(&t, path);
	cr_expect_str_eq(json_string_value(json_object_get(now, "state")), "paused");
	json_decref(now);
	json_decref(list);
	json_decref(before);
	tsrv_stop(&t);
}

/* ext4's shutdown ioctl (linux/ext4.h): every later write and sync fails
 * with EIO, as on a disk that died. */
#define EXT4_IOC_SHUTDOWN_ _IOR('X', 125, unsigned int)
#define EXT4_GOING_FLAGS_NOLOGFLUSH_ 0x2

Test(durable, io_error_is_503_and_changes_nothing)
{
	struct sbxd_config cfg = { .state_dir = state };
	char cmd[512], id[21], path[64], sub[96];
	struct tsrv t;

	cr_assert_eq(mkdir(mnt, 0700), 0);
	snprintf(cmd, sizeof(cmd), "truncate -s 16M %s/img && mkfs.ext4 -q -F %s/img 2>/dev/null &&"
		 " mount -o loop %s/img %s", dir, dir, dir, mnt);
	if (system(cmd) != 0)
		cr_skip_test("cannot mount an ext4 image on a loop device");
	snprintf(state, sizeof(state), "%s/state", mnt);
	cfg.state_dir = state;
	tsrv_start(&t, &cfg);
	create_sandbox(&t, "{\"templateID\":\"base\",\"timeout\":600}", id);
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	json_t *before = get(&t, path);
	int fd = open(mnt, O_RDONLY | O_DIRECTORY);
	unsigned int how = EXT4_GOING_FLAGS_NOLOGFLUSH_;
	cr_assert_eq(ioctl(fd, EXT4_IOC_SHUTDOWN_, &how), 0, "%s", strerror(errno));
	close(fd);

	cr_expect_eq(status_of(&t, "POST", "/sandboxes", "{\"templateID\":\"base\"}"), 503);
	snprintf(sub, sizeof(sub), "%s/pause", path);
	cr_expect_eq(status_of(&t, "POST", sub, NULL), 503);
	cr_expect_eq(status_of(&t, "DELETE", path, NULL), 503);
	json_t *now = get(&t, path), *list = get(&t, "/v2/sandboxes");
	cr_expect(json_equal(before, now), "changed by a failed commit");
	cr_expect_eq(json_array_size(list), 1);
	json_decref(now);
	json_decref(list);
	tsrv_stop(&t);

	/* Mounted again: exactly the one acknowledged sandbox. */
	cr_assert_eq(umount2(mnt, 0), 0, "%s", strerror(errno));
	snprintf(cmd, sizeof(cmd), "mount -o loop %s/img %s", dir, mnt);
	cr_assert_eq(system(cmd), 0);
	tsrv_start(&t, &cfg);
	list = get(&t, "/v2/sandboxes");
	cr_expect_eq(json_array_size(list), 1);
	now = get(&t, path);
	cr_expect(json_equal(before, now), "not the acknowledged state after remount");
	json_decref(now);
	json_decref(list);
	json_decref(before);
	tsrv_stop(&t);
}
