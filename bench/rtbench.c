/* rtbench: create and kill latency of sbxd's runtimes (bench/runtime
 * drives it).
 *
 *   rtbench URL KEYFILE CLIENTS COUNT
 *       COUNT create + kill pairs (POST /sandboxes, DELETE /sandboxes/ID)
 *       spread over CLIENTS keep-alive connections, each waiting for its
 *       reply; prints creates_per_s=.. create_p50_ms=.. create_p99_ms=..
 *       kill_p50_ms=.. kill_p99_ms=..
 *
 * Exit status 0 on success, 1 on any failed request (the reason on
 * stderr). */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"

#define MAX_CLIENTS 64

struct client {
	const char *url;
	const char *key;
	unsigned long count;
	uint64_t *create_ns, *kill_ns;  /* count latencies each */
	int failed;
};

struct body {
	char buf[4096];
	size_t len;
};

static size_t collect(char *p, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb, take = n < sizeof(b->buf) - 1 - b->len ? n
					: sizeof(b->buf) - 1 - b->len;

	memcpy(b->buf + b->len, p, take);
	b->len += take;
	b->buf[b->len] = '\0';
	return n;
}

/* One request; its status, the body in b. */
static long request(CURL *e, const char *method, const char *url, const char *data,
		    struct body *b)
{
	long status = 0;

	b->len = 0;
	b->buf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
	if (curl_easy_perform(e) != CURLE_OK)
		return 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* One create and its kill, timed. */
static int cycle(struct client *c, CURL *e, unsigned long i)
{
	char url[1100];
	struct body b;
	uint64_t t0 = bu_now_ns();

	snprintf(url, sizeof(url), "%s/sandboxes", c->url);
	long st = request(e, "POST", url, "{\"templateID\":\"base\",\"timeout\":3600}", &b);
	c->create_ns[i] = bu_now_ns() - t0;
	json_t *o = st == 201 ? json_loads(b.buf, 0, NULL) : NULL;
	const char *id = json_string_value(json_object_get(o, "sandboxID"));
	if (!id) {
		fprintf(stderr, "rtbench: create: HTTP %ld %s\n", st, b.buf);
		json_decref(o);
		return -1;
	}
	snprintf(url, sizeof(url), "%s/sandboxes/%s", c->url, id);
	json_decref(o);
	t0 = bu_now_ns();
	st = request(e, "DELETE", url, NULL, &b);
	c->kill_ns[i] = bu_now_ns() - t0;
	if (st != 204) {
		fprintf(stderr, "rtbench: kill: HTTP %ld %s\n", st, b.buf);
		return -1;
	}
	return 0;
}

static void *client_run(void *arg)
{
	struct client *c = arg;
	struct curl_slist *h = NULL;
	char hdr[1100];
	CURL *e = curl_easy_init();

	snprintf(hdr, sizeof(hdr), "X-API-Key: %s", c->key);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	for (unsigned long i = 0; i < c->count && !c->failed; i++)
		c->failed = cycle(c, e, i) < 0;
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return NULL;
}

static void report(uint64_t *cr, uint64_t *kl, size_t n, double secs)
{
	bu_sort_u64(cr, n);
	bu_sort_u64(kl, n);
	printf("creates_per_s=%.1f create_p50_ms=%.2f create_p99_ms=%.2f kill_p50_ms=%.2f"
	       " kill_p99_ms=%.2f\n", (double)n / secs, bu_pct_us(cr, n, 50) / 1000,
	       bu_pct_us(cr, n, 99) / 1000, bu_pct_us(kl, n, 50) / 1000,
	       bu_pct_us(kl, n, 99) / 1000);
}

static int run(const char *url, const char *keyfile, unsigned long nclients,
	       unsigned long count)
{
	struct client cl[MAX_CLIENTS];
	pthread_t th[MAX_CLIENTS];
	char *key = bu_read_key("rtbench", keyfile);
	unsigned long per = count / nclients;
	uint64_t *cr = calloc(per * nclients + 1, sizeof(*cr));
	uint64_t *kl = calloc(per * nclients + 1, sizeof(*kl));
	int failed = !key || !cr || !kl;

	for (unsigned long k = 0; k < nclients && !failed; k++)
		cl[k] = (struct client){ url, key, per, cr + k * per, kl + k * per, 0 };
	uint64_t t0 = bu_now_ns();
	for (unsigned long k = 0; k < nclients && !failed; k++)
		pthread_create(&th[k], NULL, client_run, &cl[k]);
	for (unsigned long k = 0; k < nclients && !failed; k++)
		pthread_join(th[k], NULL);
	double secs = (double)(bu_now_ns() - t0) / 1e9;
	for (unsigned long k = 0; k < nclients && !failed; k++)
		failed |= cl[k].failed;
	if (!failed)
		report(cr, kl, per * nclients, secs);
	free(cr);
	free(kl);
	free(key);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long n, c;

	if (argc == 5 && bu_parse_ulong(argv[3], 1, MAX_CLIENTS, &c) == 0 &&
	    bu_parse_ulong(argv[4], c, 1000000, &n) == 0) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		int rc = run(argv[1], argv[2], c, n);
		curl_global_cleanup();
		return rc;
	}
	fprintf(stderr, "usage: rtbench URL KEYFILE CLIENTS COUNT\n");
	return 2;
}
