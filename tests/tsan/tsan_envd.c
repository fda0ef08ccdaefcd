/* ThreadSanitizer driver for envd: streams fed by producer threads (watch
 * threads, process pumps) and read by the epoll workers that suspend and
 * resume their connections, unary calls on the same processes, uploads,
 * and a server stop with streams still open.  Processes come from the
 * tests' fork/exec stand-in (tests/sbxd/testrt.c).  A data race makes
 * TSan exit non-zero; a wrong result exits 1. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/server.h"
#include "testrt.h"

#define KEY "sk_tsan_envd"
#define CLIENTS 6
#define ROUNDS 6

static char base[64], root[] = "/tmp/sbxd-tsan-envd-XXXXXX", sid[32], token[80];
static atomic_int failures;

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

/* One request; envelope-frames `json` when stream is set. */
static long req(const char *path, const char *ctype, const char *json, bool stream,
		long timeout_ms, const char *extra, char *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[256], line[160], body[4096];
	size_t n = json ? strlen(json) : 0, len = n;
	long status = 0;

	out[0] = '\0';
	if (stream) {
		body[0] = 0, body[1] = 0, body[2] = 0, body[3] = (char)(n >> 8), body[4] = (char)n;
		memcpy(body + 5, json, n);
		len = n + 5;
	} else if (json) {
		memcpy(body, json, n);
	}
	snprintf(url, sizeof(url), "%s%s", base, path);
	snprintf(line, sizeof(line), "X-Access-Token: %s", token);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "E2b-Sandbox-Id: %s", sid);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-API-Key: %s", KEY);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "Content-Type: %s", ctype);
	h = curl_slist_append(h, line);
	if (extra)
		h = curl_slist_append(h, extra);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grab);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (json) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

static void *client(void *arg)
{
	long me = (long)(intptr_t)arg;
	char out[4096], path[128], json[256];

	for (int r = 0; r < ROUNDS; r++) {
		/* A watch that ends at its deadline while files change. */
		if (req("/filesystem.Filesystem/WatchDir", "application/connect+json",
			"{\"path\":\"/tmp\"}", true, 5000, "Connect-Timeout-Ms: 300", out) != 200)
			atomic_fetch_add(&failures, 1);
		snprintf(path, sizeof(path), "/files?path=/tmp/f%ld-%d", me, r);
		if (req(path, "application/octet-stream", "data", false, 5000, NULL, out) != 200)
			atomic_fetch_add(&failures, 1);
		/* A process whose client leaves, then is listed and killed. */
		req("/process.Process/Start", "application/connect+json",
		    "{\"process\":{\"cmd\":\"sleep\",\"args\":[\"5\"]}}", true, 200,
		    "Keepalive-Ping-Interval: 1", out);
		req("/process.Process/List", "application/json", "{}", false, 5000, NULL, out);
		snprintf(json, sizeof(json), "{\"process\":{\"pid\":%d},\"signal\":\"SIGNAL_SIGKILL\"}",
			 atoi(strstr(out, "\"pid\":") ? strstr(out, "\"pid\":") + 6 : "0"));
		req("/process.Process/SendSignal", "application/json", json, false, 5000, NULL, out);
		/* One run to its end. */
		if (req("/process.Process/Start", "application/connect+json",
			"{\"process\":{\"cmd\":\"echo\",\"args\":[\"hi\"]}}", true, 5000, NULL,
			out) != 200)
			atomic_fetch_add(&failures, 1);
	}
	return NULL;
}

int main(void)
{
	struct sbxd_config cfg = { .host = "127.0.0.1", .listen_fd = -1, .api_key = KEY,
				   .log_level = SBXD_LOG_ERROR };
	static struct envd_backend be;
	pthread_t th[CLIENTS];
	char *err = NULL, out[4096], dir[256];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!mkdtemp(root))
		return 1;
	const char *dirs[] = { "/home", "/home/user", "/root", "/tmp" };

	for (int i = 0; i < 4; i++) {
		snprintf(dir, sizeof(dir), "%s%s", root, dirs[i]);
		mkdir(dir, 0755);
	}
	struct sbxd *s = sbxd_start(&cfg, &err);

	if (!s)
		return fprintf(stderr, "tsan_envd: %s\n", err), 1;
	testrt_backend(&be, root, true);
	envd_set_backend(sbxd_envd(s), &be);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", sbxd_port(s));
	req("/sandboxes", "application/json", "{\"templateID\":\"base\"}", false, 5000, NULL, out);
	char *p = strstr(out, "\"sandboxID\":\""), *t = strstr(out, "\"envdAccessToken\":\"");

	if (!p || !t)
		return fprintf(stderr, "tsan_envd: create: %s\n", out), 1;
	snprintf(sid, sizeof(sid), "%.20s", p + 13);
	snprintf(token, sizeof(token), "%.32s", t + 19);
	for (long i = 0; i < CLIENTS; i++)
		pthread_create(&th[i], NULL, client, (void *)(intptr_t)i);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(th[i], NULL);
	/* Stop with a stream and a process still running. */
	req("/process.Process/Start", "application/connect+json",
	    "{\"process\":{\"cmd\":\"sleep\",\"args\":[\"30\"]}}", true, 300, NULL, out);
	sbxd_stop(s);
	snprintf(dir, sizeof(dir), "rm -rf %s", root);
	(void)!system(dir);
	curl_global_cleanup();
	if (atomic_load(&failures)) {
		fprintf(stderr, "tsan_envd: %d failed requests\n", atomic_load(&failures));
		return 1;
	}
	puts("tsan_envd: ok");
	return 0;
}
