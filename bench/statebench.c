/* statebench: the cost of a durable sbxd change (bench/state drives it).
 *
 *   statebench seed DIR N
 *       writes DIR/sandboxes.json holding N running sandboxes (the format
 *       every sbxd reads at start: the old one natively, the new one imports)
 *   statebench creates URL KEYFILE CLIENTS COUNT
 *       COUNT creates (POST /sandboxes) spread over CLIENTS keep-alive
 *       connections, each waiting for its reply before the next; prints
 *       creates_per_s=.. p50_ms=.. p99_ms=..
 *
 * Exit status 0 on success, 1 on any failure (the reason on stderr). */
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
	uint64_t *lat;              /* count latencies, ns */
	int failed;
};

static int seed(const char *dir, unsigned long n)
{
	json_t *arr = json_array();
	char path[4096], id[21];

	for (unsigned long i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "seed%016lu", i);
		json_array_append_new(arr, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:{}, s:{}, s:I, s:I,"
			" s:b, s:i, s:I}",
			"sandboxID", id, "templateID", "base", "alias", "base",
			"clientID", "0badc0de", "envdVersion", "0.2.0",
			"envdAccessToken", "0123456789abcdef0123456789abcdef",
			"cpuCount", 2, "memoryMB", 512, "diskSizeMB", 512,
			"metadata", "envVars", "startedMs", (json_int_t)1700000000000LL,
			"endMs", (json_int_t)4102444800000LL, "autoPause", 0,
			"allowInternetAccess", -1, "seq", (json_int_t)i));
	}
	json_t *doc = json_pack("{s:i, s:I, s:o}", "version", 1, "nextSeq",
				(json_int_t)n + 1, "sandboxes", arr);
	snprintf(path, sizeof(path), "%s/sandboxes.json", dir);
	int rc = doc ? json_dump_file(doc, path, JSON_COMPACT) : -1;
	json_decref(doc);
	if (rc < 0)
		fprintf(stderr, "statebench: cannot write %s\n", path);
	return rc < 0 ? 1 : 0;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
	(void)p;
	(void)ud;
	return size * nmemb;
}

static void *client_run(void *arg)
{
	struct client *c = arg;
	struct curl_slist *h = NULL;
	char hdr[1100], url[1024];
	CURL *e = curl_easy_init();

	snprintf(hdr, sizeof(hdr), "X-API-Key: %s", c->key);
	snprintf(url, sizeof(url), "%s/sandboxes", c->url);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, "{\"templateID\":\"base\",\"timeout\":3600}");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	for (unsigned long i = 0; i < c->count && !c->failed; i++) {
		uint64_t t0 = bu_now_ns();
		long status = 0;
		CURLcode rc = curl_easy_perform(e);

		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		c->lat[i] = bu_now_ns() - t0;
		if (rc != CURLE_OK || status != 201) {
			fprintf(stderr, "statebench: create: %s, HTTP %ld\n",
				curl_easy_strerror(rc), status);
			c->failed = 1;
		}
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	return NULL;
}

static int creates(const char *url, const char *keyfile, unsigned long nclients,
		   unsigned long count)
{
	struct client cl[MAX_CLIENTS];
	pthread_t th[MAX_CLIENTS];
	char *key = bu_read_key("statebench", keyfile);
	uint64_t *lat = calloc(count, sizeof(*lat));
	unsigned long per = count / nclients;
	int failed = !key || !lat;

	for (unsigned long k = 0; k < nclients && !failed; k++)
		cl[k] = (struct client){ url, key, per, lat + k * per, 0 };
	uint64_t t0 = bu_now_ns();
	for (unsigned long k = 0; k < nclients && !failed; k++)
		pthread_create(&th[k], NULL, client_run, &cl[k]);
	for (unsigned long k = 0; k < nclients && !failed; k++)
		pthread_join(th[k], NULL);
	double secs = (double)(bu_now_ns() - t0) / 1e9;
	for (unsigned long k = 0; k < nclients && !failed; k++)
		failed |= cl[k].failed;
	if (!failed) {
		bu_sort_u64(lat, per * nclients);
		printf("creates_per_s=%.0f p50_ms=%.2f p99_ms=%.2f\n",
		       (double)(per * nclients) / secs,
		       bu_pct_us(lat, per * nclients, 50) / 1000,
		       bu_pct_us(lat, per * nclients, 99) / 1000);
	}
	free(lat);
	free(key);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long n, c;

	if (argc == 4 && strcmp(argv[1], "seed") == 0 &&
	    bu_parse_ulong(argv[3], 0, 1000000, &n) == 0)
		return seed(argv[2], n);
	if (argc == 6 && strcmp(argv[1], "creates") == 0 &&
	    bu_parse_ulong(argv[4], 1, MAX_CLIENTS, &c) == 0 &&
	    bu_parse_ulong(argv[5], c, 1000000, &n) == 0) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		int rc = creates(argv[2], argv[3], c, n);
		curl_global_cleanup();
		return rc;
	}
	fprintf(stderr, "usage: statebench seed DIR N | creates URL KEYFILE CLIENTS COUNT\n");
	return 2;
}
