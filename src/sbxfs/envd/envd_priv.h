/* What envd.c (the client and its attempts) shares with calls.c (the
 * calls).  Private to envd/. */
#ifndef SBXFS_ENVD_PRIV_H
#define SBXFS_ENVD_PRIV_H

#include "client.h"
#include "http/retry.h"

/* One call as the attempts see it. */
struct ecall {
	const char *op;             /* for the log: "Stat", "GET /files" */
	const char *subject;        /* the remote path, for the log */
	const char *method;
	const char *path;           /* after the base: "/files?path=..." */
	const char *body;           /* JSON, or NULL */
	size_t body_len;            /* 0: strlen(body) (an envelope is binary) */
	const char *user;           /* NULL: the client's user */
	const char *content_type;   /* NULL: none */
	const char *range;          /* "bytes=a-b", or NULL */
	int upload_fd;              /* >= 0: the body, upload_len bytes of it */
	const struct http_source *source;  /* else NULL, or the body as it comes */
	uint64_t upload_len;
	const struct http_sink *sink;
	size_t max_body;            /* cap on a buffered reply; 0: http's */
	uint64_t transfer_len;      /* bytes expected either way (timeouts) */
	enum http_retry_class rc;
	bool rpc;                   /* Connect headers */
	int quiet;                  /* an errno logged at debug only */
	bool debug_only;            /* any failure: another call reports it */
	/* A server stream: one attempt without a time limit, ended by
	 * *cancel (non-zero: -EINTR) or idle_s seconds without a byte.  Any
	 * other call may have cancel (-ECANCELED) and idle_s (-1: the request
	 * timeout). */
	bool stream;
	const int *cancel;
	long idle_s;
};

/* Runs c's attempts for t; 0 with *rs (caller http_response_clear()s
 * it), or -errno with *err filled and the failure logged. */
int envdc_call(struct envdc *e, const struct envdc_target *t, const struct ecall *c,
	      struct http_response *rs, struct envdc_error *err);
/* Appends s %-encoded for a query value to dst (size bytes): 0 or
 * -ENAMETOOLONG. */
int envdc_escape(char *dst, size_t size, const char *s);

#endif
