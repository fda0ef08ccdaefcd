/* ThreadSanitizer driver for sbxd's connection handling: the epoll
 * workers, the timer thread that resumes delayed replies and closes late
 * requests, and the connection counts they share.  Not Criterion (see
 * tsan_cache_api.c).  A data race makes TSan exit non-zero; a wrong result
 * exits 1.
 *
 * Clients make requests with injected latency (suspended and resumed)
 * while half-sent connections are opened and timed out, the stats are read,
 * and finally the server is stopped with delayed replies still pending. */
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sbxd.h"

#define KEY "sk_tsan_key"
#define CLIENTS 8
#define ROUNDS 15
#define HALF_SENT 40

static char base[64];
static uint16_t port;
static atomic_int failures;

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return sz * n;
}

static long request(CURL *h, const char *method, const char *path, const char *body)
{
	char url[128];
	long code = 0;

	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (!body)
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	if (curl_easy_perform(h) != CURLE_OK)
		return -1;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

static CURL *client_new(struct curl_slist *hdr)
{
	CURL *h = curl_easy_init();

	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	return h;
}

static void *client(void *arg)
{
	struct curl_slist *hdr = arg;
	CURL *h = client_new(hdr);

	for (int i = 0; i < ROUNDS; i++) {
		long code = request(h, "GET", "/v2/sandboxes", NULL);

		if (code != 200) {
			fprintf(stderr, "tsan_server: list answered %ld\n", code);
			atomic_fetch_add(&failures, 1);
		}
		if (request(h, "GET", "/sbxd/stats", NULL) != 200)
			atomic_fetch_add(&failures, 1);
	}
	curl_easy_cleanup(h);
	return NULL;
}

/* Opens half-sent requests that the request timeout must close. */
static void *half_sender(void *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fds[HALF_SENT];
	int closed = 0;
	char c;

	(void)arg;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < HALF_SENT; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    send(fds[i], "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL) != 16) {
			atomic_fetch_add(&failures, 1);
			return NULL;
		}
	}
	for (int i = 0; i < HALF_SENT; i++) {
		struct timeval tv = { .tv_sec = 10 };

		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		closed += recv(fds[i], &c, 1, 0) <= 0;
		close(fds[i]);
	}
	if (closed != HALF_SENT) {
		fprintf(stderr, "tsan_server: %d of %d half-sent requests closed\n", closed,
			HALF_SENT);
		atomic_fetch_add(&failures, 1);
	}
	return NULL;
}

static void *late_client(void *arg)
{
	CURL *h = client_new(arg);

	/* Answered when the server stops, or the connection is closed. */
	request(h, "GET", "/v2/sandboxes", NULL);
	curl_easy_cleanup(h);
	return NULL;
}

int main(void)
{
	struct sbxd_config cfg = { .listen_fd = -1, .api_key = KEY, .faults = true,
				   .threads = 3, .request_timeout = 1,
				   .log_level = SBXD_LOG_ERROR };
	struct curl_slist *hdr = curl_slist_append(NULL, "X-API-Key: " KEY);
	pthread_t th[CLIENTS + 1], late[4];
	char *err = NULL;
	struct sbxd *s;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	s = sbxd_start(&cfg, &err);
	if (!s) {
		fprintf(stderr, "tsan_server: %s\n", err ? err : "cannot start sbxd");
		return 1;
	}
	port = sbxd_port(s);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
	CURL *h = client_new(hdr);
	if (request(h, "POST", "/sbxd/faults",
		    "{\"latency_ms\":30,\"path_prefix\":\"/v2/sandboxes\"}") != 200)
		atomic_fetch_add(&failures, 1);
	for (int i = 0; i < CLIENTS; i++)
		pthread_create(&th[i], NULL, client, hdr);
	pthread_create(&th[CLIENTS], NULL, half_sender, NULL);
	for (int i = 0; i <= CLIENTS; i++)
		pthread_join(th[i], NULL);

	if (request(h, "POST", "/sbxd/faults",
		    "{\"latency_ms\":20000,\"path_prefix\":\"/v2/sandboxes\"}") != 200)
		atomic_fetch_add(&failures, 1);
	curl_easy_cleanup(h);
	for (int i = 0; i < 4; i++)
		pthread_create(&late[i], NULL, late_client, hdr);
	usleep(300 * 1000);
	sbxd_stop(s);
	for (int i = 0; i < 4; i++)
		pthread_join(late[i], NULL);
	curl_slist_free_all(hdr);
	curl_global_cleanup();
	if (atomic_load(&failures)) {
		fprintf(stderr, "tsan_server: %d failures\n", atomic_load(&failures));
		return 1;
	}
	printf("tsan_server: ok\n");
	return 0;
}
