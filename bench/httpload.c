/* httpload: request rates of sbxd's HTTP side.
 *
 *   httpload run   -u URL -k KEYFILE -c CLIENTS -t SECS list|create-kill
 *       CLIENTS threads, each on its own libcurl keep-alive connection, repeat
 *       the operation for SECS seconds: `list` is GET /v2/sandboxes?limit=100,
 *       `create-kill` a POST /sandboxes and the DELETE of what it made (one
 *       operation, two requests); prints ops=N req_per_s=R errors=E
 *   httpload floor -c CLIENTS -t SECS
 *       the same clients against a trivial responder inside this tool (one
 *       thread per connection answering `[]` at once): what libcurl itself
 *       manages on this machine, the ceiling any server is measured against;
 *       prints req_per_s=R
 *
 * Exit status 0 on success, 1 on failure, 2 on usage errors. */
#include "benchutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 256

struct job {
	char base[256];
	char hdr[1100];
	const char *op;
	uint64_t end_ns;
	atomic_ulong ops, errors;
};

struct out {
	char *b;
	size_t len;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct out *o = ud;
	size_t take = sz * n;

	/* Keep the start only: the create reply's sandboxID. */
	if (o->len < 1023) {
		size_t k = take < 1023 - o->len ? take : 1023 - o->len;

		memcpy(o->b + o->len, p, k);
		o->len += k;
		o->b[o->len] = '\0';
	}
	return take;
}

static long perform(CURL *h, const char *method, const char *url, const char *body,
		    char out[1024])
{
	struct out o = { out, 0 };
	long status = 0;

	out[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &o);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	if (curl_easy_perform(h) != CURLE_OK)
		return -1;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* One create and the kill of what it made.  True on success. */
static bool create_kill(CURL *h, const struct job *j, char *buf)
{
	char url[512];
	const char *id;

	snprintf(url, sizeof(url), "%s/sandboxes", j->base);
	if (perform(h, "POST", url, "{\"templateID\":\"base\"}", buf) != 201 ||
	    !(id = strstr(buf, "\"sandboxID\":\"")))
		return false;
	id += 13;
	snprintf(url, sizeof(url), "%s/sandboxes/%.*s", j->base, (int)strcspn(id, "\""), id);
	return perform(h, "DELETE", url, NULL, buf) == 204;
}

static void *client(void *arg)
{
	struct job *j = arg;
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[512], buf[1024];

	hdrs = curl_slist_append(hdrs, j->hdr);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
	snprintf(url, sizeof(url), "%s/v2/sandboxes?limit=100", j->base);
	while (bu_now_ns() < j->end_ns) {
		bool ok = strcmp(j->op, "create-kill") == 0 ? create_kill(h, j, buf)
			: perform(h, "GET", url, NULL, buf) == 200;

		atomic_fetch_add(ok ? &j->ops : &j->errors, 1);
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return NULL;
}

static int run_clients(struct job *j, unsigned long n, unsigned long secs)
{
	pthread_t th[MAX_CLIENTS];
	uint64_t t0 = bu_now_ns();

	j->end_ns = t0 + secs * 1000000000ULL;
	for (unsigned long i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, client, j) != 0) {
			fprintf(stderr, "httpload: cannot start client threads\n");
			exit(1);
		}
	for (unsigned long i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	double s = (double)(bu_now_ns() - t0) / 1e9;
	unsigned long reqs = atomic_load(&j->ops) * (strcmp(j->op, "create-kill") == 0 ? 2 : 1);

	printf("ops=%lu req_per_s=%.0f errors=%lu\n", atomic_load(&j->ops), (double)reqs / s,
	       atomic_load(&j->errors));
	return atomic_load(&j->errors) ? 1 : 0;
}

/* ---- the floor's responder -------------------------------------------- */

static void *respond(void *arg)
{
	static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				    "Content-Length: 2\r\n\r\n[]";
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	size_t have = 0;

	for (;;) {
		ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		char *end;

		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		/* GETs only: a request ends at its blank line. */
		while ((end = strstr(buf, "\r\n\r\n"))) {
			size_t used = (size_t)(end + 4 - buf);

			if (send(fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL) < 0)
				goto out;
			memmove(buf, buf + used, have - used + 1);
			have -= used;
		}
		if (have == sizeof(buf) - 1)
			break;
	}
out:
	close(fd);
	return NULL;
}

static void *acceptor(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;

	while ((fd = accept(lfd, NULL, NULL)) >= 0) {
		pthread_t t;

		if (pthread_create(&t, NULL, respond, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
	return NULL;
}

static int start_responder(char *base, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	pthread_t t;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 ||
	    pthread_create(&t, NULL, acceptor, (void *)(intptr_t)fd) != 0)
		return -1;
	pthread_detach(t);
	snprintf(base, len, "http://127.0.0.1:%u", ntohs(sa.sin_port));
	return 0;
}

static void usage(void)
{
	fputs("usage: httpload run -u URL -k KEYFILE -c CLIENTS -t SECS list|create-kill\n"
	      "       httpload floor -c CLIENTS -t SECS\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static struct job j;
	const char *url = NULL, *keyfile = NULL;
	char *key;
	unsigned long clients = 1, secs = 5;
	int c;

	if (argc < 2)
		usage();
	optind = 2;
	while ((c = getopt(argc, argv, "u:k:c:t:")) != -1) {
		if (c == 'u')
			url = optarg;
		else if (c == 'k')
			keyfile = optarg;
		else if (c == 'c' && bu_parse_ulong(optarg, 1, MAX_CLIENTS, &clients) == 0)
			continue;
		else if (c == 't' && bu_parse_ulong(optarg, 1, 3600, &secs) == 0)
			continue;
		else
			usage();
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(argv[1], "floor") == 0) {
		if (start_responder(j.base, sizeof(j.base)) < 0) {
			fprintf(stderr, "httpload: cannot start the responder: %s\n", strerror(errno));
			return 1;
		}
		j.op = "list";
		snprintf(j.hdr, sizeof(j.hdr), "X-Bench: floor");
		return run_clients(&j, clients, secs);
	}
	if (strcmp(argv[1], "run") != 0 || !url || !keyfile || optind != argc - 1)
		usage();
	j.op = argv[optind];
	if (strcmp(j.op, "list") != 0 && strcmp(j.op, "create-kill") != 0)
		usage();
	snprintf(j.base, sizeof(j.base), "%s", url);
	if (!(key = bu_read_key("httpload", keyfile)))
		return 1;
	snprintf(j.hdr, sizeof(j.hdr), "X-API-Key: %s", key);
	free(key);
	return run_clients(&j, clients, secs);
}
