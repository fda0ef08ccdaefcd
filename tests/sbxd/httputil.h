/* Helpers for the HTTP-level sbxd tests: an in-process server on a free
 * loopback port and a small libcurl client. */
#ifndef SBXD_TEST_HTTPUTIL_H
#define SBXD_TEST_HTTPUTIL_H

#include "sbxd.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define TEST_KEY "test-key-0123456789"

struct tsrv {
	struct sbxd *s;
	char base[64];
};

/* Fills defaults (port 0, TEST_KEY, warnings counted) into cfg fields left
 * zero, starts the server and aborts the test on failure. */
void tsrv_start(struct tsrv *t, struct sbxd_config *cfg);
void tsrv_stop(struct tsrv *t);

/* Number of error/warning messages the servers logged so far. */
int tsrv_complaints(void);

struct resp {
	long status;
	char *body;             /* NUL-terminated; free with resp_free */
	size_t len;
	char next_token[128];
	char retry_after[32];
	char allow[64];
	char content_type[64];
	int curl_code;          /* CURLcode; 0 on success */
};

/* A TCP socket connected to the server's loopback port, for requests
 * written by hand (caller closes it); aborts the test on failure. */
int tsrv_connect(const struct tsrv *t);

/* Sends one request.  key NULL omits X-API-Key; body NULL sends none. */
void http(const struct tsrv *t, const char *method, const char *path, const char *key,
	  const char *body, struct resp *r);
void resp_free(struct resp *r);

/* Parses r->body as JSON (NULL when it is not). */
json_t *resp_json(const struct resp *r);

/* True when r is {"code": r->status, "message": "<non-empty>"}. */
bool resp_is_error(const struct resp *r);

/* Appends n bytes at p to the NUL-terminated *body of *len bytes: n, or
 * 0 when out of memory (a libcurl write callback's answer). */
size_t tbody_append(char **body, size_t *len, const char *p, size_t n);
/* Copies the value of header line (len bytes) into out when it is header
 * name (case-insensitive), trimmed; out is left alone otherwise. */
void theader_take(const char *line, size_t len, const char *name, char *out, size_t cap);

/* Creates a sandbox from `body` and copies its ID into id[21]; asserts 201. */
void create_sandbox(const struct tsrv *t, const char *body, char id[21]);

#endif
