/* benchtool: the REST side of the sbxfs benchmark.
 *
 *   benchtool seed   -u URL -k KEYFILE --from A --to B [-c CONNS] [-p PREFIX] [-T SECS]
 *       creates sandboxes PREFIX<A>..PREFIX<B> (inclusive, names zero-padded
 *       to five digits, stored as metadata sbxfs.name) over CONNS keep-alive
 *       connections; prints created=K ms=T
 *   benchtool floor  -u URL -k KEYFILE [-r REPEAT]
 *       fetches every page of GET /v2/sandboxes?state=running,paused&limit=100
 *       following X-Next-Token, from one keep-alive connection, parsing each
 *       page with jansson (the least any client must do); prints
 *       pages=P items=I min_ms=.. median_ms=.. (over REPEAT passes)
 *   benchtool stats  -u URL -k KEYFILE [--reset]
 *       prints sbxd's request counters, one line of key=value, grouped by
 *       route: list get create kill timeout other total (total leaves out
 *       sbxd's own /sbxd/ control routes) and sandboxes
 *   benchtool faults -u URL -k KEYFILE JSON|--clear
 *       sets (POST) or clears (DELETE) sbxd's injected faults
 *
 * Exit status 0 on success, 1 on any failure (the reason on stderr), 2 on
 * usage errors. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "benchutil.h"

#define BODY_CAP (64u << 20)
#define MAX_CONNS 64

struct buf {
	char *p;
	size_t n, cap;
	bool overflow;
};

/* One keep-alive connection: an easy handle and its headers. */
struct conn {
	CURL *h;
	struct curl_slist *hdrs;
	const char *base;      /* borrowed */
	char token[512];       /* X-Next-Token of the last reply, "" if none */
	char errbuf[CURL_ERROR_SIZE];
};

struct opts {
	const char *url;
	const char *key_file;
	unsigned long from, to, conns, repeat, timeout;
	const char *prefix;
	bool reset, clear;
	const char *arg;       /* faults: the JSON body */
};

static void buf_reset(struct buf *b)
{
	b->n = 0;
	b->overflow = false;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t len = size * nmemb, cap;
	char *p;

	if (b->n + len + 1 > BODY_CAP) {
		b->overflow = true;
		return 0;
	}
	if (b->n + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 16384;
		while (cap < b->n + len + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, ptr, len);
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct conn *c = ud;
	size_t len = size * nmemb;
	static const char name[] = "x-next-token:";
	size_t nl = sizeof(name) - 1;

	if (len > nl && strncasecmp(ptr, name, nl) == 0) {
		const char *v = ptr + nl;
		const char *e = ptr + len;

		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
			e--;
		if ((size_t)(e - v) < sizeof(c->token)) {
			memcpy(c->token, v, (size_t)(e - v));
			c->token[e - v] = '\0';
		}
	}
	return len;
}

static int conn_init(struct conn *c, const char *base, const char *key)
{
	char hdr[1100];

	memset(c, 0, sizeof(*c));
	c->base = base;
	c->h = curl_easy_init();
	if (!c->h)
		return -ENOMEM;
	snprintf(hdr, sizeof(hdr), "X-API-Key: %s", key);
	c->hdrs = curl_slist_append(c->hdrs, hdr);
	c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/json");
	c->hdrs = curl_slist_append(c->hdrs, "Expect:");
	if (!c->hdrs)
		return -ENOMEM;
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, 120000L);
	curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
	return 0;
}

static void conn_fini(struct conn *c)
{
	curl_easy_cleanup(c->h);
	curl_slist_free_all(c->hdrs);
}

/* Sends one request on c (reusing its connection).  body may be NULL.
 * Returns the HTTP status, or -1 on a transport error (reason on stderr). */
static long conn_do(struct conn *c, const char *method, const char *path,
		    const char *body, struct buf *out)
{
	char url[2048];
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", c->base, path);
	buf_reset(out);
	c->token[0] = '\0';
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = curl_easy_perform(c->h);
	if (rc != CURLE_OK) {
		fprintf(stderr, "benchtool: %s %s: %s\n", method, url,
			c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static void report_status(const char *what, long status, const struct buf *b)
{
	fprintf(stderr, "benchtool: %s: HTTP %ld: %.200s\n", what, status,
		b->n ? b->p : "(no body)");
}

/* --- seed ---------------------------------------------------------------- */

struct seeder {
	const struct opts *o;
	const char *key;
	atomic_ulong next;
	atomic_ulong created;
	atomic_bool failed;
};

static void *seed_worker(void *arg)
{
	struct seeder *s = arg;
	struct conn c;
	struct buf b = { 0 };
	char body[512];
	unsigned long i;
	long st;

	if (conn_init(&c, s->o->url, s->key) < 0) {
		atomic_store(&s->failed, true);
		goto out;
	}
	while (!atomic_load(&s->failed)) {
		i = atomic_fetch_add(&s->next, 1);
		if (i > s->o->to)
			break;
		snprintf(body, sizeof(body),
			 "{\"templateID\":\"base\",\"timeout\":%lu,"
			 "\"metadata\":{\"sbxfs.name\":\"%s%05lu\"}}",
			 s->o->timeout, s->o->prefix, i);
		st = conn_do(&c, "POST", "/sandboxes", body, &b);
		if (st != 201 && st != 200) {
			if (st > 0)
				report_status("POST /sandboxes", st, &b);
			atomic_store(&s->failed, true);
			break;
		}
		atomic_fetch_add(&s->created, 1);
	}
out:
	conn_fini(&c);
	free(b.p);
	return NULL;
}

static int cmd_seed(const struct opts *o, const char *key)
{
	struct seeder s = { .o = o, .key = key };
	pthread_t th[MAX_CONNS];
	unsigned long i, started = 0;
	uint64_t t0;
	int rc;

	if (o->from == 0 || o->to < o->from) {
		fprintf(stderr, "benchtool: seed needs 1 <= --from <= --to\n");
		return 2;
	}
	atomic_init(&s.next, o->from);
	t0 = bu_now_ns();
	for (i = 0; i < o->conns; i++) {
		rc = pthread_create(&th[i], NULL, seed_worker, &s);
		if (rc) {
			fprintf(stderr, "benchtool: pthread_create: %s\n", strerror(rc));
			atomic_store(&s.failed, true);
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	printf("created=%lu ms=%.1f\n", (unsigned long)atomic_load(&s.created),
	       (double)(bu_now_ns() - t0) / 1e6);
	return atomic_load(&s.failed) ? 1 : 0;
}

/* --- floor --------------------------------------------------------------- */

/* One pass over all pages; 0 or 1.  Counts pages and items. */
static int floor_pass(struct conn *c, struct buf *b, unsigned long *pages, unsigned long *items)
{
	char path[1024];
	char *tok = NULL, *esc;
	json_t *arr;
	json_error_t jerr;
	long st;

	*pages = *items = 0;
	for (;;) {
		if (tok) {
			esc = curl_easy_escape(c->h, tok, 0);
			if (!esc)
				goto fail;
			snprintf(path, sizeof(path),
				 "/v2/sandboxes?state=running,paused&limit=100&nextToken=%s", esc);
			curl_free(esc);
		} else {
			snprintf(path, sizeof(path), "/v2/sandboxes?state=running,paused&limit=100");
		}
		st = conn_do(c, "GET", path, NULL, b);
		if (st != 200) {
			if (st > 0)
				report_status("GET /v2/sandboxes", st, b);
			goto fail;
		}
		arr = json_loadb(b->p ? b->p : "", b->n, 0, &jerr);
		if (!json_is_array(arr)) {
			fprintf(stderr, "benchtool: list page is not a JSON array: %s\n", jerr.text);
			json_decref(arr);
			goto fail;
		}
		*items += json_array_size(arr);
		json_decref(arr);
		(*pages)++;
		free(tok);
		tok = c->token[0] ? strdup(c->token) : NULL;
		if (!tok)
			break;
	}
	return 0;
fail:
	free(tok);
	return 1;
}

static int cmd_floor(const struct opts *o, const char *key)
{
	struct conn c;
	struct buf b = { 0 };
	uint64_t *ns = calloc(o->repeat, sizeof(*ns)), t0;
	unsigned long r, pages = 0, items = 0;
	int rc = 1;

	if (conn_init(&c, o->url, key) < 0 || !ns)
		goto out;
	for (r = 0; r < o->repeat; r++) {
		t0 = bu_now_ns();
		if (floor_pass(&c, &b, &pages, &items))
			goto out;
		ns[r] = bu_now_ns() - t0;
	}
	bu_sort_u64(ns, o->repeat);
	printf("pages=%lu items=%lu min_ms=%.3f median_ms=%.3f\n", pages, items,
	       (double)ns[0] / 1e6, bu_pct_us(ns, o->repeat, 50) / 1e3);
	rc = 0;
out:
	conn_fini(&c);
	free(b.p);
	free(ns);
	return rc;
}

/* --- stats, faults ------------------------------------------------------- */

static const char *route_group(const char *route)
{
	const char *sp = strchr(route, ' ');
	const char *path = sp ? sp + 1 : route;
	size_t mlen = sp ? (size_t)(sp - route) : 0;
	bool get = mlen == 3 && strncmp(route, "GET", 3) == 0;
	bool post = mlen == 4 && strncmp(route, "POST", 4) == 0;
	bool del = mlen == 6 && strncmp(route, "DELETE", 6) == 0;

	if (strncmp(path, "/sbxd/", 6) == 0 || strcmp(path, "/sbxd") == 0)
		return NULL;
	if (get && (strcmp(path, "/v2/sandboxes") == 0 || strcmp(path, "/sandboxes") == 0))
		return "list";
	if (post && (strcmp(path, "/v2/sandboxes") == 0 || strcmp(path, "/sandboxes") == 0))
		return "create";
	if (get && strcmp(path, "/sandboxes/{id}") == 0)
		return "get";
	if (del && strcmp(path, "/sandboxes/{id}") == 0)
		return "kill";
	if (post && strcmp(path, "/sandboxes/{id}/timeout") == 0)
		return "timeout";
	return "other";
}

static int cmd_stats(const struct opts *o, const char *key)
{
	static const char *const groups[] = { "list", "get", "create", "kill", "timeout", "other" };
	json_int_t count[6] = { 0 }, total = 0;
	struct conn c;
	struct buf b = { 0 };
	json_t *root = NULL, *routes, *v;
	json_error_t jerr;
	const char *route, *g;
	long st;
	size_t i;
	int rc = 1;

	if (conn_init(&c, o->url, key) < 0)
		goto out;
	if (o->reset) {
		st = conn_do(&c, "DELETE", "/sbxd/stats", NULL, &b);
		if (st < 200 || st > 299) {
			if (st > 0)
				report_status("DELETE /sbxd/stats", st, &b);
			goto out;
		}
		rc = 0;
		goto out;
	}
	st = conn_do(&c, "GET", "/sbxd/stats", NULL, &b);
	if (st != 200) {
		if (st > 0)
			report_status("GET /sbxd/stats", st, &b);
		goto out;
	}
	root = json_loadb(b.p ? b.p : "", b.n, 0, &jerr);
	routes = json_object_get(root, "routes");
	if (!json_is_object(routes)) {
		fprintf(stderr, "benchtool: /sbxd/stats has no \"routes\" object\n");
		goto out;
	}
	json_object_foreach(routes, route, v) {
		if (!json_is_integer(v) || !(g = route_group(route)))
			continue;
		for (i = 0; i < 6; i++)
			if (strcmp(g, groups[i]) == 0)
				count[i] += json_integer_value(v);
		total += json_integer_value(v);
	}
	for (i = 0; i < 6; i++)
		printf("%s=%" JSON_INTEGER_FORMAT " ", groups[i], count[i]);
	printf("total=%" JSON_INTEGER_FORMAT " sandboxes=%" JSON_INTEGER_FORMAT "\n", total,
	       json_integer_value(json_object_get(root, "sandboxes")));
	rc = 0;
out:
	json_decref(root);
	conn_fini(&c);
	free(b.p);
	return rc;
}

static int cmd_faults(const struct opts *o, const char *key)
{
	struct conn c;
	struct buf b = { 0 };
	long st;
	int rc = 1;

	if (!o->clear && !o->arg) {
		fprintf(stderr, "benchtool: faults needs a JSON body or --clear\n");
		return 2;
	}
	if (conn_init(&c, o->url, key) < 0)
		goto out;
	st = conn_do(&c, o->clear ? "DELETE" : "POST", "/sbxd/faults", o->arg, &b);
	if (st >= 200 && st <= 299)
		rc = 0;
	else if (st > 0)
		report_status("/sbxd/faults", st, &b);
out:
	conn_fini(&c);
	free(b.p);
	return rc;
}

/* --- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: benchtool seed   -u URL -k KEYFILE --from A --to B [-c CONNS] [-p PREFIX] [-T SECS]\n"
	      "       benchtool floor  -u URL -k KEYFILE [-r REPEAT]\n"
	      "       benchtool stats  -u URL -k KEYFILE [--reset]\n"
	      "       benchtool faults -u URL -k KEYFILE JSON|--clear\n", f);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 't' },
		{ "conns", required_argument, NULL, 'c' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "reset", no_argument, NULL, 'R' },
		{ "clear", no_argument, NULL, 'C' },
		{ 0 }
	};
	int ch;
	int bad = 0;

	while ((ch = getopt_long(argc, argv, "u:k:F:t:c:p:T:r:", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o->url = optarg; break;
		case 'k': o->key_file = optarg; break;
		case 'F': bad |= bu_parse_ulong(optarg, 1, 999999, &o->from); break;
		case 't': bad |= bu_parse_ulong(optarg, 1, 999999, &o->to); break;
		case 'c': bad |= bu_parse_ulong(optarg, 1, MAX_CONNS, &o->conns); break;
		case 'p': o->prefix = optarg; break;
		case 'T': bad |= bu_parse_ulong(optarg, 1, 86400, &o->timeout); break;
		case 'r': bad |= bu_parse_ulong(optarg, 1, 1000, &o->repeat); break;
		case 'R': o->reset = true; break;
		case 'C': o->clear = true; break;
		default: return -1;
		}
	}
	if (bad || !o->url || !o->key_file || strlen(o->prefix) > 32)
		return -1;
	if (optind < argc)
		o->arg = argv[optind++];
	return optind < argc ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .conns = 4, .repeat = 1, .timeout = 3600, .prefix = "b" };
	const char *cmd;
	char *key;
	int rc;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	if (parse_opts(argc - 1, argv + 1, &o) < 0) {
		usage(stderr);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	key = bu_read_key("benchtool", o.key_file);
	if (!key) {
		rc = 1;
	} else if (strcmp(cmd, "seed") == 0) {
		rc = cmd_seed(&o, key);
	} else if (strcmp(cmd, "floor") == 0) {
		rc = cmd_floor(&o, key);
	} else if (strcmp(cmd, "stats") == 0) {
		rc = cmd_stats(&o, key);
	} else if (strcmp(cmd, "faults") == 0) {
		rc = cmd_faults(&o, key);
	} else {
		usage(stderr);
		rc = 2;
	}
	free(key);
	curl_global_cleanup();
	return rc;
}
