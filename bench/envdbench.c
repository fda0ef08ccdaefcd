/* envdbench: envd's costs against doing the same locally (bench/envd
 * drives it).
 *
 *   envdbench [RUNS [MIB]]
 *       an in-process sbxd with one bwrap sandbox; then
 *       - RUNS x commands.run('true') (a Start stream of bash -c true, to
 *         its end) against RUNS x posix_spawn of bash -c true here: p50;
 *       - GET /files of a MIB MiB file (best of 3) against cat of it into
 *         a pipe: MB/s;
 *       and prints key=value pairs with the two ratios.
 *
 * Needs root-free bubblewrap and sbxd-init ($SBXD_INIT).  Exit status 0 on
 * success, 1 on any failure (the reason on stderr). */
#include "envd/envd.h"
#include "http/server.h"
#include "runtime/runtime.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"

extern char **environ;

#define KEY "envdbench-key-0123456789"

struct box {
	struct sbxd *s;
	struct rt *rt;
	char base[64], id[32], token[80], root[4200];
	CURL *c;
};

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	*(size_t *)ud += sz * n;
	return sz * n;
}

static size_t grab(char *p, size_t sz, size_t n, void *ud)
{
	char *b = ud;
	size_t have = strlen(b), k = sz * n;

	if (have + k < 4096) {
		memcpy(b + have, p, k);
		b[have + k] = '\0';
	}
	return k;
}

/* One request on the box's keep-alive handle; the body counted. */
static long request(struct box *b, const char *path, const char *ctype, const void *body,
		    size_t len, size_t *got, char *text)
{
	struct curl_slist *h = NULL;
	char url[256], line[160];
	long status = 0;

	snprintf(url, sizeof(url), "%s%s", b->base, path);
	snprintf(line, sizeof(line), "X-Access-Token: %s", b->token);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "E2b-Sandbox-Id: %s", b->id);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-API-Key: %s", KEY);
	h = curl_slist_append(h, line);
	if (ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		h = curl_slist_append(h, line);
	}
	curl_easy_reset(b->c);
	curl_easy_setopt(b->c, CURLOPT_URL, url);
	curl_easy_setopt(b->c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(b->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(b->c, CURLOPT_WRITEFUNCTION, text ? grab : sink);
	curl_easy_setopt(b->c, CURLOPT_WRITEDATA, text ? (void *)text : (void *)got);
	if (body) {
		curl_easy_setopt(b->c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(b->c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	if (curl_easy_perform(b->c) == CURLE_OK)
		curl_easy_getinfo(b->c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	return status;
}

static int open_box(struct box *b, const char *state)
{
	struct rt_config rc = { .kind = RT_BWRAP, .state_dir = state };
	struct sbxd_config cfg = { .host = "127.0.0.1", .listen_fd = -1, .api_key = KEY,
				   .log_level = SBXD_LOG_ERROR };
	char *err = NULL, text[4096] = "", msg[256];
	struct envd_backend be;
	static const char body[] = "{\"templateID\":\"base\"}";

	if (!(b->rt = rt_new(&rc, &err)) || !(b->s = sbxd_start(&cfg, &err))) {
		fprintf(stderr, "envdbench: %s\n", err ? err : "cannot start");
		return -1;
	}
	snprintf(b->base, sizeof(b->base), "http://127.0.0.1:%u", sbxd_port(b->s));
	b->c = curl_easy_init();
	if (request(b, "/sandboxes", "application/json", body, sizeof(body) - 1, NULL, text) != 201)
		return fprintf(stderr, "envdbench: create: %s\n", text), -1;
	json_t *j = json_loads(text, 0, NULL);

	snprintf(b->id, sizeof(b->id), "%s", json_string_value(json_object_get(j, "sandboxID")));
	snprintf(b->token, sizeof(b->token), "%s",
		 json_string_value(json_object_get(j, "envdAccessToken")));
	json_decref(j);
	struct rt_box_spec spec = { .id = b->id, .template_id = "base", .cpu_count = 2,
				    .memory_mb = 512, .disk_mb = 1024 };

	if (rt_create(b->rt, &spec, msg, sizeof(msg)) < 0)
		return fprintf(stderr, "envdbench: rt_create: %s\n", msg), -1;
	envd_backend_rt(b->rt, &be);
	envd_set_backend(sbxd_envd(b->s), &be);
	snprintf(b->root, sizeof(b->root), "%s/sandboxes/%s/root", state, b->id);
	return 0;
}

static double run_p50_us(struct box *b, unsigned long runs)
{
	static const char json[] = "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-c\","
				   "\"true\"]},\"stdin\":false}";
	char body[256];
	size_t n = sizeof(json) - 1, got;
	uint64_t *lat = calloc(runs, sizeof(*lat));
	double p50;

	body[0] = 0, body[1] = 0, body[2] = 0, body[3] = (char)(n >> 8), body[4] = (char)n;
	memcpy(body + 5, json, n);
	for (unsigned long i = 0; i < runs; i++) {
		uint64_t t0 = bu_now_ns();

		got = 0;
		if (request(b, "/process.Process/Start", "application/connect+json", body, n + 5,
			    &got, NULL) != 200 || got == 0)
			return free(lat), -1;
		lat[i] = bu_now_ns() - t0;
	}
	bu_sort_u64(lat, runs);
	p50 = bu_pct_us(lat, runs, 50);
	free(lat);
	return p50;
}

static double spawn_p50_us(unsigned long runs)
{
	static char a0[] = "bash", a1[] = "-c", a2[] = "true";
	char *argv[] = { a0, a1, a2, NULL };
	uint64_t *lat = calloc(runs, sizeof(*lat));
	double p50;

	for (unsigned long i = 0; i < runs; i++) {
		uint64_t t0 = bu_now_ns();
		pid_t pid;
		int ws;

		if (posix_spawn(&pid, "/bin/bash", NULL, NULL, argv, environ) != 0)
			return free(lat), -1;
		waitpid(pid, &ws, 0);
		lat[i] = bu_now_ns() - t0;
	}
	bu_sort_u64(lat, runs);
	p50 = bu_pct_us(lat, runs, 50);
	free(lat);
	return p50;
}

static double read_mbps(struct box *b, size_t bytes)
{
	double best = 0;

	for (int i = 0; i < 3; i++) {
		size_t got = 0;
		uint64_t t0 = bu_now_ns();

		if (request(b, "/files?path=/tmp/envdbench.bin", NULL, NULL, 0, &got, NULL) != 200 ||
		    got != bytes)
			return -1;
		double mbps = (double)bytes / 1e6 / ((double)(bu_now_ns() - t0) / 1e9);

		best = mbps > best ? mbps : best;
	}
	return best;
}

/* cat of the file into a pipe that this process drains. */
static double cat_mbps(const char *path, size_t bytes)
{
	double best = 0;
	static char buf[1 << 16];

	for (int i = 0; i < 3; i++) {
		int p[2];
		pid_t pid;
		posix_spawn_file_actions_t fa;
		static char a0[] = "cat";
		char *argv[] = { a0, (char *)path, NULL };
		size_t got = 0;
		ssize_t n;
		int ws;
		uint64_t t0 = bu_now_ns();

		if (pipe(p) < 0)
			return -1;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, p[1], 1);
		posix_spawn_file_actions_addclose(&fa, p[0]);
		if (posix_spawnp(&pid, "cat", &fa, NULL, argv, environ) != 0)
			return -1;
		posix_spawn_file_actions_destroy(&fa);
		close(p[1]);
		while ((n = read(p[0], buf, sizeof(buf))) > 0)
			got += (size_t)n;
		close(p[0]);
		waitpid(pid, &ws, 0);
		if (got != bytes)
			return -1;
		double mbps = (double)bytes / 1e6 / ((double)(bu_now_ns() - t0) / 1e9);

		best = mbps > best ? mbps : best;
	}
	return best;
}

static int make_file(const char *path, size_t bytes)
{
	static char buf[1 << 20];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	memset(buf, 'e', sizeof(buf));
	for (size_t left = bytes; fd >= 0 && left; left -= sizeof(buf) < left ? sizeof(buf) : left)
		if (write(fd, buf, sizeof(buf) < left ? sizeof(buf) : left) < 0)
			return close(fd), -1;
	return fd < 0 ? -1 : close(fd);
}

int main(int argc, char **argv)
{
	unsigned long runs = 50, mib = 256;
	char state[] = "/var/tmp/sbxd-envdbench-XXXXXX", path[4400], cmd[128];
	struct box b = { 0 };
	int rc = 1;

	if ((argc > 1 && bu_parse_ulong(argv[1], 1, 100000, &runs) < 0) ||
	    (argc > 2 && bu_parse_ulong(argv[2], 1, 16384, &mib) < 0)) {
		fprintf(stderr, "usage: envdbench [RUNS [MIB]]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!mkdtemp(state) || open_box(&b, state) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/tmp/envdbench.bin", b.root);
	if (make_file(path, mib << 20) < 0)
		goto out;
	double run = run_p50_us(&b, runs), spawn = spawn_p50_us(runs);
	double rd = read_mbps(&b, mib << 20), cat = cat_mbps(path, mib << 20);

	if (run < 0 || spawn < 0 || rd < 0 || cat < 0) {
		fprintf(stderr, "envdbench: a measurement failed\n");
		goto out;
	}
	printf("run_true_p50_us=%.0f local_spawn_p50_us=%.0f run_ratio=%.2f\n", run, spawn,
	       run / spawn);
	printf("read_%luMiB_MBps=%.0f cat_MBps=%.0f read_ratio=%.2f\n", mib, rd, cat, cat / rd);
	rc = 0;
out:
	if (b.c)
		curl_easy_cleanup(b.c);
	sbxd_stop(b.s);
	rt_free(b.rt);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	(void)!system(cmd);
	curl_global_cleanup();
	return rc;
}
