/* The process service over HTTP, with the test stand-in for the
 * runtime's processes (testrt.c).  Process effects are checked in /proc. */
#include "envdutil.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct efix f;

static void setup(void)
{
	efix_start(&f);
}

static void teardown(void)
{
	efix_stop(&f);
	cr_expect_eq(tsrv_complaints(), 0, "sbxd logged warnings");
}

TestSuite(proc, .init = setup, .fini = teardown, .timeout = 60);

struct sreq {
	const char *method;             /* "Start" or "Connect" */
	const char *json;
	const char *timeout_ms;         /* Connect-Timeout-Ms or NULL */
	long abort_ms;                  /* the client gives up after; 0: never */
	const char *user;               /* Basic auth user or NULL */
	struct eresp r;
	json_t *events;                 /* the "event" objects, in order */
	json_t *end;                    /* the end-of-stream message */
};

static void decode(struct sreq *q)
{
	size_t i = 0;

	q->events = json_array();
	while (i + 5 <= q->r.len) {
		const unsigned char *b = (const unsigned char *)q->r.body + i;
		size_t n = (size_t)b[1] << 24 | (size_t)b[2] << 16 | (size_t)b[3] << 8 | b[4];

		if (i + 5 + n > q->r.len)
			break;
		json_t *m = json_loadb((const char *)b + 5, n, 0, NULL);

		if (b[0] == 2)
			q->end = m;
		else {
			json_array_append(q->events, json_object_get(m, "event"));
			json_decref(m);
		}
		i += 5 + n;
	}
}

/* One stream request; with abort_ms the client disconnects then. */
static void stream(struct sreq *q)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], line[256], body[4096];
	size_t n = strlen(q->json);

	body[0] = 0, body[1] = (char)(n >> 24), body[2] = (char)(n >> 16);
	body[3] = (char)(n >> 8), body[4] = (char)n;
	memcpy(body + 5, q->json, n);
	snprintf(url, sizeof(url), "%s/process.Process/%s", f.t.base, q->method);
	snprintf(line, sizeof(line), "X-Access-Token: %s", f.token);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "E2b-Sandbox-Id: %s", f.id);
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Content-Type: application/connect+json");
	h = curl_slist_append(h, "Keepalive-Ping-Interval: 1");
	if (q->timeout_ms) {
		snprintf(line, sizeof(line), "Connect-Timeout-Ms: %s", q->timeout_ms);
		h = curl_slist_append(h, line);
	}
	if (q->user && !strcmp(q->user, "root"))
		h = curl_slist_append(h, "Authorization: Basic cm9vdDo=");
	memset(&q->r, 0, sizeof(q->r));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(n + 5));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->abort_ms ? q->abort_ms : 30000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ereq_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &q->r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, ereq_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &q->r);
	CURLcode cc = curl_easy_perform(c);

	cr_assert(cc == CURLE_OK || (q->abort_ms && cc == CURLE_OPERATION_TIMEDOUT),
		  "%s", curl_easy_strerror(cc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &q->r.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	decode(q);
}

static void sreq_free(struct sreq *q)
{
	json_decref(q->events);
	json_decref(q->end);
	eresp_free(&q->r);
}

/* The concatenated, decoded output of one kind ("stdout", "stderr", "pty"). */
static char *output(const struct sreq *q, const char *kind)
{
	static char out[65536];
	size_t n = 0, i;
	json_t *e;

	json_array_foreach(q->events, i, e) {
		const char *b64 = json_string_value(json_object_get(json_object_get(e, "data"),
								   kind));
		if (b64 && n < sizeof(out) - 1)
			n += ebase64_decode(b64, out + n, sizeof(out) - 1 - n);
	}
	out[n] = '\0';
	return out;
}

static json_t *end_event(const struct sreq *q)
{
	size_t n = json_array_size(q->events);

	return n ? json_object_get(json_array_get(q->events, n - 1), "end") : NULL;
}

static int start_pid(const struct sreq *q)
{
	json_t *s = json_object_get(json_array_get(q->events, 0), "start");

	return (int)json_integer_value(json_object_get(s, "pid"));
}

static void run_bash(const char *cmd, const char *extra, struct sreq *q)
{
	static char json[2048];
	json_t *c = json_string(cmd);
	char *quoted = json_dumps(c, JSON_ENCODE_ANY);

	snprintf(json, sizeof(json),
		 "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-l\",\"-c\",%s]%s},"
		 "\"stdin\":false}", quoted, extra ? extra : "");
	free(quoted);
	json_decref(c);
	q->method = q->method ? q->method : "Start";
	q->json = json;
	stream(q);
}

Test(proc, run_echo)
{
	struct sreq q = { 0 };

	run_bash("echo hello", NULL, &q);
	cr_assert_eq(q.r.status, 200);
	cr_assert_str_eq(q.r.content_type, "application/connect+json");
	cr_expect_gt(start_pid(&q), 0, "start event first");
	cr_expect_str_eq(output(&q, "stdout"), "hello\n");
	json_t *end = end_event(&q);

	cr_assert_not_null(end);
	cr_expect(json_is_true(json_object_get(end, "exited")));
	cr_expect_str_eq(json_string_value(json_object_get(end, "status")), "exit status 0");
	cr_expect_null(json_object_get(end, "exitCode"), "zero is omitted");
	cr_expect_null(json_object_get(end, "error"));
	cr_expect_eq(json_object_size(q.end), 0, "end of stream {}");
	sreq_free(&q);
}

Test(proc, exit_code_stderr_env_and_cwd)
{
	struct sreq q = { 0 };
	char p[PATH_MAX + 16];

	run_bash("echo oops 1>&2; exit 3", NULL, &q);
	cr_expect_str_eq(output(&q, "stderr"), "oops\n");
	cr_expect_eq(json_integer_value(json_object_get(end_event(&q), "exitCode")), 3);
	cr_expect_str_eq(json_string_value(json_object_get(end_event(&q), "error")),
			 "exit status 3");
	sreq_free(&q);
	memset(&q, 0, sizeof(q));
	run_bash("echo $FOO; pwd", ",\"envs\":{\"FOO\":\"bar\"},\"cwd\":\"/tmp\"", &q);
	snprintf(p, sizeof(p), "bar\n%s/tmp\n", f.root);
	cr_expect_str_eq(output(&q, "stdout"), p);
	sreq_free(&q);
	memset(&q, 0, sizeof(q));
	run_bash("pwd", ",\"cwd\":\"/nope\"", &q);
	cr_expect_eq(q.r.status, 200);
	cr_expect_eq(json_array_size(q.events), 0);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(q.end, "error"),
							   "code")), "invalid_argument");
	sreq_free(&q);
}

Test(proc, split_utf8_and_binary_arrive_whole)
{
	struct sreq q = { 0 };

	run_bash("printf '\\xe2\\x82'; sleep 0.1; printf '\\xac'; printf '\\x00\\xff'", NULL, &q);
	char *o = output(&q, "stdout");

	cr_expect_eq(memcmp(o, "\xe2\x82\xac\x00\xff", 5), 0);
	sreq_free(&q);
}

static bool alive(int pid)
{
	char p[64];
	struct stat st;
	char buf[512];

	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	if (stat(p, &st) != 0)
		return false;
	/* A zombie is dead too. */
	FILE *fp = fopen(p, "r");
	bool z = fp && fgets(buf, sizeof(buf), fp) && strstr(buf, ") Z ");

	if (fp)
		fclose(fp);
	return !z;
}

static json_t *call(const char *method, const char *json, long *status)
{
	struct eresp r;
	const char *h[] = { "Content-Type: application/json", NULL };
	char path[128];

	snprintf(path, sizeof(path), "/process.Process/%s", method);
	ereq(&f, "POST", path, h, json, strlen(json), &r);
	*status = r.status;
	json_t *j = eresp_json(&r);

	if (getenv("ENVD_TEST_DEBUG"))
		fprintf(stderr, "%s %s -> %ld %s\n", method, json, r.status, r.body);

	eresp_free(&r);
	return j;
}

Test(proc, background_list_kill)
{
	struct sreq q = { .abort_ms = 400 };
	long st;
	char body[128];

	run_bash("sleep 30", NULL, &q);
	int pid = start_pid(&q);

	cr_assert_gt(pid, 0);
	sreq_free(&q);
	usleep(200 * 1000);
	cr_expect(alive(pid), "a client's disconnect does not kill the process");
	json_t *l = call("List", "{}", &st);
	json_t *p0 = json_array_get(json_object_get(l, "processes"), 0);

	cr_assert_eq(st, 200);
	cr_expect_eq(json_integer_value(json_object_get(p0, "pid")), pid);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(p0, "config"), "cmd")),
			 "/bin/bash");
	cr_expect_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(p0,
		"config"), "args"), 2)), "sleep 30");
	json_decref(l);
	snprintf(body, sizeof(body), "{\"process\":{\"pid\":%d},\"signal\":\"SIGNAL_SIGKILL\"}", pid);
	json_decref(call("SendSignal", body, &st));
	cr_expect_eq(st, 200);
	for (int i = 0; i < 50 && alive(pid); i++)
		usleep(20 * 1000);
	cr_expect_not(alive(pid));
	usleep(100 * 1000);
	l = call("List", "{}", &st);
	cr_expect_eq(json_array_size(json_object_get(l, "processes")), 0);
	json_decref(l);
	json_decref(call("SendSignal", body, &st));
	cr_expect_eq(st, 404, "gone");
}

struct connector {
	int pid;
	struct sreq q;
};

static void *connect_main(void *arg)
{
	struct connector *c = arg;
	char json[64];

	snprintf(json, sizeof(json), "{\"process\":{\"pid\":%d}}", c->pid);
	c->q.method = "Connect";
	c->q.json = json;
	stream(&c->q);
	return NULL;
}

Test(proc, stdin_reattach_and_close)
{
	struct sreq q = { .abort_ms = 300 };
	struct connector c = { 0 };
	pthread_t th;
	long st;
	char body[128];
	static char json[] = "{\"process\":{\"cmd\":\"cat\"},\"stdin\":true}";

	q.method = "Start";
	q.json = json;
	stream(&q);
	c.pid = start_pid(&q);
	cr_assert_gt(c.pid, 0);
	sreq_free(&q);
	pthread_create(&th, NULL, connect_main, &c);
	usleep(300 * 1000);
	snprintf(body, sizeof(body), "{\"process\":{\"pid\":%d},\"input\":{\"stdin\":\"YWJj\"}}",
		 c.pid);
	json_decref(call("SendInput", body, &st));
	cr_expect_eq(st, 200);
	snprintf(body, sizeof(body), "{\"process\":{\"pid\":%d}}", c.pid);
	json_decref(call("CloseStdin", body, &st));
	cr_expect_eq(st, 200);
	json_decref(call("CloseStdin", body, &st));
	cr_expect(st == 200 || st == 404, "idempotent, or cat already ended: %ld", st);
	pthread_join(th, NULL);
	cr_expect_eq(start_pid(&c.q), c.pid);
	cr_expect_str_eq(output(&c.q, "stdout"), "abc");
	cr_expect(json_is_true(json_object_get(end_event(&c.q), "exited")));
	sreq_free(&c.q);
	json_decref(call("SendInput", "{\"process\":{\"pid\":999999},\"input\":{\"stdin\":\"eA==\"}}",
			 &st));
	cr_expect_eq(st, 404);
	c.pid = 999999;
	connect_main(&c);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(c.q.end, "error"),
							   "code")), "not_found");
	sreq_free(&c.q);
}

Test(proc, deadline_kills)
{
	struct sreq q = { .timeout_ms = "500" };

	run_bash("sleep 5", NULL, &q);
	int pid = start_pid(&q);

	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(q.end, "error"),
							   "code")), "deadline_exceeded");
	for (int i = 0; i < 50 && alive(pid); i++)
		usleep(20 * 1000);
	cr_expect_not(alive(pid), "killed at the deadline");
	sreq_free(&q);
}

Test(proc, keepalives_while_idle)
{
	struct sreq q = { 0 };
	size_t i, ka = 0;
	json_t *e;

	run_bash("sleep 2.5", NULL, &q);
	json_array_foreach(q.events, i, e)
		ka += json_object_get(e, "keepalive") != NULL;
	cr_expect_geq(ka, 2);
	sreq_free(&q);
}

struct pty_run {
	struct sreq q;
};

static void *pty_main(void *arg)
{
	struct pty_run *r = arg;
	static char json[] = "{\"process\":{\"cmd\":\"/bin/sh\",\"args\":[\"-c\","
			     "\"read x; stty size\"]},\"pty\":{\"size\":{\"cols\":80,\"rows\":24}}}";

	r->q.method = "Start";
	r->q.json = json;
	stream(&r->q);
	return NULL;
}

Test(proc, pty_input_and_resize)
{
	struct pty_run r = { { 0 } };
	pthread_t th;
	long st;
	char body[160];

	pthread_create(&th, NULL, pty_main, &r);
	json_t *l = NULL;
	int pid = 0;

	for (int i = 0; i < 100 && !pid; i++, json_decref(l)) {
		usleep(20 * 1000);
		l = call("List", "{}", &st);
		pid = (int)json_integer_value(json_object_get(json_array_get(json_object_get(l,
			"processes"), 0), "pid"));
	}
	cr_assert_gt(pid, 0);
	snprintf(body, sizeof(body), "{\"process\":{\"pid\":%d},\"pty\":{\"size\":"
		 "{\"cols\":100,\"rows\":30}}}", pid);
	json_decref(call("Update", body, &st));
	cr_expect_eq(st, 200);
	/* Before the input: the shell is still waiting in `read`, so the
	 * answer is about the PTY, not about a process that has ended. */
	snprintf(body, sizeof(body), "{\"process\":{\"pid\":%d}}", pid);
	json_decref(call("CloseStdin", body, &st));
	cr_expect_eq(st, 500, "no stdin to close on a PTY");
	snprintf(body, sizeof(body), "{\"process\":{\"pid\":%d},\"input\":{\"pty\":\"Cg==\"}}", pid);
	json_decref(call("SendInput", body, &st));
	cr_expect_eq(st, 200);
	pthread_join(th, NULL);
	cr_expect(strstr(output(&r.q, "pty"), "30 100"), "%s", output(&r.q, "pty"));
	sreq_free(&r.q);
}

Test(proc, bad_requests)
{
	struct sreq q = { .method = "Start", .json = "{\"process\":{\"args\":[]}}" };
	long st;

	stream(&q);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(q.end, "error"),
							   "code")), "invalid_argument");
	sreq_free(&q);
	json_decref(call("SendSignal", "{\"process\":{\"pid\":1},\"signal\":\"SIGNAL_SIGKILL\"}",
			 &st));
	cr_expect_eq(st, 404, "pids not started here are not ours to signal");
	json_decref(call("Nope", "{}", &st));
	cr_expect_eq(st, 404);
}

Test(proc, logs_and_metrics)
{
	struct sreq q = { 0 };
	struct resp r;
	char path[128];

	run_bash("echo x > /dev/null", NULL, &q);
	int pid = start_pid(&q);

	sreq_free(&q);
	usleep(100 * 1000);
	snprintf(path, sizeof(path), "/sandboxes/%s/logs", f.id);
	http(&f.t, "GET", path, TEST_KEY, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *j = resp_json(&r), *l;
	size_t i;
	bool created = false, started = false;
	char want[64];

	snprintf(want, sizeof(want), "Process with pid %d started", pid);
	cr_expect_eq(json_array_size(json_object_get(j, "logs")),
		     json_array_size(json_object_get(j, "logEntries")));
	json_array_foreach(json_object_get(j, "logs"), i, l) {
		json_t *line = json_loads(json_string_value(json_object_get(l, "line")), 0, NULL);

		cr_expect(json_is_string(json_object_get(line, "level")), "the CLI needs a level");
		const char *m = json_string_value(json_object_get(line, "message"));

		created |= m && strstr(m, "Sandbox created") != NULL;
		started |= m && !strcmp(m, want);
		json_decref(line);
	}
	cr_expect(created && started, "%s", r.body);
	json_decref(j);
	resp_free(&r);
	snprintf(path, sizeof(path), "/v2/sandboxes/%s/logs?direction=forward&search=ended&limit=5",
		 f.id);
	http(&f.t, "GET", path, TEST_KEY, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	j = resp_json(&r);
	cr_expect_eq(json_array_size(json_object_get(j, "logs")), 1, "%s", r.body);
	json_decref(j);
	resp_free(&r);
	snprintf(path, sizeof(path), "/v2/sandboxes/%s/logs?level=error", f.id);
	http(&f.t, "GET", path, TEST_KEY, NULL, &r);
	cr_expect(strstr(r.body, "\"logs\":[]") != NULL, "%s", r.body);
	resp_free(&r);
	snprintf(path, sizeof(path), "/sandboxes/%s/metrics", f.id);
	http(&f.t, "GET", path, TEST_KEY, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	j = resp_json(&r);
	json_t *m = json_array_get(j, 0);

	cr_expect(json_is_string(json_object_get(m, "timestamp")));
	cr_expect_gt(json_integer_value(json_object_get(m, "diskUsed")), 0);
	cr_expect_eq(json_integer_value(json_object_get(m, "diskTotal")), 4096LL << 20);
	cr_expect(json_is_real(json_object_get(m, "cpuUsedPct")));
	json_decref(j);
	resp_free(&r);
	http(&f.t, "GET", "/sandboxes/nosuch/metrics", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 404);
	resp_free(&r);
	http(&f.t, "GET", "/sandboxes/nosuch/logs", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 404);
	resp_free(&r);
}

/* Ends the transfer at the first bytes (the start event). */
static size_t first_bytes(char *p, size_t sz, size_t n, void *ud)
{
	struct eresp *r = ud;

	ereq_collect(p, sz, n, ud);
	return r->len >= 5 ? 0 : sz * n;
}

/* Starts `sleep 30` and leaves at once; returns the HTTP status and, in
 * *code, an end-of-stream error code if the start was refused. */
static long start_detached(char *code)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	static const char json[] = "{\"process\":{\"cmd\":\"sleep\",\"args\":[\"30\"]}}";
	char url[256], line[160], body[128];
	struct eresp r = { 0 };
	size_t n = sizeof(json) - 1;
	long status = 0;

	body[0] = 0, body[1] = 0, body[2] = 0, body[3] = 0, body[4] = (char)n;
	memcpy(body + 5, json, n);
	snprintf(url, sizeof(url), "%s/process.Process/Start", f.t.base);
	snprintf(line, sizeof(line), "X-Access-Token: %s", f.token);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "E2b-Sandbox-Id: %s", f.id);
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Content-Type: application/connect+json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(n + 5));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, first_bytes);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	code[0] = '\0';
	if (r.len > 5 && (unsigned char)r.body[0] == 2) {
		json_t *j = json_loadb(r.body + 5, r.len - 5, 0, NULL);

		snprintf(code, 64, "%s", json_string_value(json_object_get(json_object_get(j,
			"error"), "code")) ?: "");
		json_decref(j);
	}
	eresp_free(&r);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

Test(proc, a_flood_of_processes_is_limited, .timeout = 120)
{
	char code[64];
	int started = 0, refused = 0;
	long st;

	int flood = getenv("FLOOD_N") ? atoi(getenv("FLOOD_N")) : 140;

	for (int i = 0; i < flood; i++) {
		long s = start_detached(code);

		started += s == 200 && !*code;
		refused += s == 200 && !strcmp(code, "resource_exhausted");
	}
	cr_expect_eq(started, 128, "%d started", started);
	cr_expect_eq(refused, 12, "%d refused with resource_exhausted", refused);
	json_t *l = call("List", "{}", &st);
	size_t i;
	json_t *p;
	char body[128];

	cr_expect_eq(json_array_size(json_object_get(l, "processes")), 128, "%zu listed",
		     json_array_size(json_object_get(l, "processes")));
	json_array_foreach(json_object_get(l, "processes"), i, p) {
		snprintf(body, sizeof(body), "{\"process\":{\"pid\":%d},\"signal\":\"SIGNAL_SIGKILL\"}",
			 (int)json_integer_value(json_object_get(p, "pid")));
		json_decref(call("SendSignal", body, &st));
	}
	json_decref(l);
}
