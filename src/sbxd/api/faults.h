/* Fault injection for client tests (--faults): latency, error statuses and
 * broken bodies on matching requests, configured through /sbxd/faults. */
#ifndef SBXD_FAULTS_H
#define SBXD_FAULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct faults;

enum fault_body {
	FAULT_BODY_NONE,
	FAULT_BODY_TRUNCATED,   /* 200, a JSON document cut in the middle */
	FAULT_BODY_NONJSON,     /* 200 text/html */
	FAULT_BODY_WRONGTYPE,   /* 200 JSON with the wrong field types */
	FAULT_BODY_OVERSIZE,    /* 200 JSON of 5 MiB */
	FAULT_BODY_DROP,        /* close the connection, no response */
	FAULT_BODY_ENDLESS,     /* 200, the same page of a listing, and always
	                         * a new X-Next-Token (a pagination bug) */
};

/* What to do to one request, decided once when it arrives. */
struct fault_action {
	long latency_ms;        /* 0: none */
	int status;             /* 0: answer normally (or with `body`) */
	long retry_after;       /* < 0: no Retry-After header */
	enum fault_body body;
	long long cut_after;    /* >= 0: an envd request's connection is closed
	                         * once this many body bytes have arrived, or
	                         * of a file download, been sent (and only envd
	                         * requests are faulted); -1: none */
};

struct faults *faults_new(void);
void faults_free(struct faults *f);

/* Replaces the configuration with a JSON object (see sbxd(8)); unknown
 * fields and bad values are rejected: -EINVAL with err set. */
int faults_set(struct faults *f, const char *body, size_t len, char *err, size_t errlen);

void faults_clear(struct faults *f);

/* The current configuration (caller owns). */
json_t *faults_json(struct faults *f);

/* Decides whether the API request for `path` is faulted, consuming one of
 * a `count`.  Returns true and fills *act when it is. */
bool faults_decide(struct faults *f, const char *path, struct fault_action *act);
/* The same for a request to a sandbox's envd: only a configuration with
 * cut_after_bytes applies to those (and to no API request). */
bool faults_decide_envd(struct faults *f, const char *path, struct fault_action *act);

#endif
