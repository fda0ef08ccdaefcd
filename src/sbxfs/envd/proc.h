/* envd's process service as the client sees it (process.Process): the
 * server streams of Start and Connect as events, and the unary List,
 * SendInput, SendSignal and CloseStdin.
 *
 * A stream is one HTTP POST whose reply is a sequence of Connect
 * envelopes (1 byte flags, 4 bytes big-endian length, JSON); the decoder
 * below takes the reply in pieces of any size, bounds each envelope at
 * ENVDC_ENVELOPE_MAX and hands each message over as an event.  The
 * last envelope (flags 0x02) ends the stream, with an error or not.
 *
 * Every function returns 0 or -errno; the decoder and the event parser
 * do no I/O and take untrusted bytes (fuzzed: tests/fuzz/fuzz_proc.c). */
#ifndef SBXFS_ENVD_PROC_H
#define SBXFS_ENVD_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

/* Largest envelope taken: envd sends data in pieces of 32 KiB (some
 * 44 KiB of base64 and JSON). */
#define ENVDC_ENVELOPE_MAX (4u * 1024 * 1024)
/* Silence on a stream this long (it asks for a keepalive every
 * ENVDC_KEEPALIVE_S seconds) is a dead connection. */
#define ENVDC_STREAM_IDLE_S 35

enum envdc_ev_kind {
	ENVDC_EV_START = 1,
	ENVDC_EV_STDOUT,
	ENVDC_EV_STDERR,
	ENVDC_EV_PTY,
	ENVDC_EV_END,
	ENVDC_EV_KEEPALIVE,
};

struct envdc_event {
	enum envdc_ev_kind kind;
	unsigned pid;               /* START */
	char *data;                 /* STDOUT, STDERR, PTY: malloc'd bytes */
	size_t len;
	int exit_code;              /* END: -1 when killed by a signal */
	bool exited;                /* END: exited normally */
	char status[64];            /* END: "exit status 3", "signal: killed" */
	char error[128];            /* END: "" when none */
};

/* Parses one message of a Start or Connect stream ({"event":{...}}) into
 * *ev (caller envdc_event_clear()s it).  0, -EPROTO for anything else,
 * -ENOMEM. */
int envdc_event_parse(const char *json, size_t len, struct envdc_event *ev);
void envdc_event_clear(struct envdc_event *ev);

/* Called for each event in order; a non-zero return ends the stream with
 * that value. */
typedef int (*envdc_event_fn)(const struct envdc_event *ev, void *ctx);

struct envdc_dec {
	envdc_event_fn on_event;
	void *ctx;
	unsigned char hdr[5];
	size_t hlen;                /* header bytes held */
	char *msg;                  /* the envelope being read, malloc'd */
	size_t need, have;
	bool ended;                 /* the end-stream envelope came */
	int end_err;                /* its error as -errno, 0 for none */
	char end_code[32];          /* its Connect code, "" for none */
	char end_msg[256];
};

void envdc_dec_init(struct envdc_dec *d, envdc_event_fn fn, void *ctx);
/* Takes len more bytes of the reply.  0; -EPROTO for a malformed or
 * compressed envelope, a bad message or bytes after the end; -EFBIG for
 * an envelope over ENVDC_ENVELOPE_MAX; -ENOMEM; or the callback's value.
 * After an error the decoder takes nothing more. */
int envdc_dec_feed(struct envdc_dec *d, const char *data, size_t len);
void envdc_dec_clear(struct envdc_dec *d);

/* A process to start: `/bin/bash -l -c cmd`. */
struct envdc_start {
	const char *cmd;
	const char *const *env;     /* n_env "KEY=VALUE" strings */
	size_t n_env;
	const char *cwd;            /* NULL: the user's home */
	const char *tag;            /* NULL: none */
	const char *user;           /* NULL: the client's */
};

/* Runs a Start (or Connect to pid) stream until it ends, handing each
 * event to fn on the calling thread.  0 after a clean end of the stream;
 * the end's error as -errno (ENOENT: no such process); -ECONNRESET when
 * the connection ended without one; -EINTR when *cancel turned non-zero
 * (noticed within 50 ms); another transport errno.  err filled on
 * failure. */
int envdc_proc_start(struct envdc *e, const struct envdc_target *t,
		     const struct envdc_start *s, const int *cancel, envdc_event_fn fn,
		     void *ctx, struct envdc_error *err);
int envdc_proc_connect(struct envdc *e, const struct envdc_target *t, unsigned pid,
		       const int *cancel, envdc_event_fn fn, void *ctx,
		       struct envdc_error *err);

/* One process of a List reply. */
struct envdc_pinfo {
	unsigned pid;
	char *tag;                  /* NULL when none */
	char *cmd;                  /* its last argument ("-c LINE"'s LINE), or cmd */
};

/* The processes envd lists (caller envdc_pinfo_free()s them). */
int envdc_proc_list(struct envdc *e, const struct envdc_target *t, struct envdc_pinfo **out,
		    size_t *n, struct envdc_error *err);
void envdc_pinfo_free(struct envdc_pinfo *v, size_t n);
/* Writes len bytes (at most 1 MiB) to pid's stdin. */
int envdc_proc_input(struct envdc *e, const struct envdc_target *t, unsigned pid,
		     const char *data, size_t len, struct envdc_error *err);
/* sig: 9 or 15 (others -EINVAL, nothing sent). */
int envdc_proc_signal(struct envdc *e, const struct envdc_target *t, unsigned pid, int sig,
		      struct envdc_error *err);
int envdc_proc_close_stdin(struct envdc *e, const struct envdc_target *t, unsigned pid,
			   struct envdc_error *err);

#endif
