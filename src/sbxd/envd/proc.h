/* Processes started through envd: the table of live ones (by sandbox and
 * pid or tag) and, per process, a pump thread that fans its output out to
 * the streams attached to it (Start's, and Connect's), sends keepalives,
 * kills it at Start's deadline and ends every stream with its exit.  A
 * client that goes away only detaches its stream; the process runs on. */
#ifndef SBXD_ENVD_PROC_H
#define SBXD_ENVD_PROC_H

#include "envd/envd.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Live processes, all sandboxes; more are refused (resource_exhausted). */
#define PROC_MAX 128
/* Streams attached to one process at once. */
#define PROC_MAX_STREAMS 8

struct procs;
struct eproc;
struct estream;

struct procs *procs_new(struct envd *e);
/* Kills nothing (the runtime owns the processes): detaches and waits for
 * the pumps, which end once every stream is dropped (envd_shutdown). */
void procs_free(struct procs *ps);

/* What the pump needs to know of a new process. */
struct proc_start {
	const char *sandbox;
	struct rt_proc *p;              /* handed over */
	const struct envd_proc_ops *ops;
	json_t *config;                 /* ProcessConfig for List (handed over) */
	const char *tag;                /* NULL: none */
	bool pty;
	bool stdin;                     /* false: closed at once */
	int64_t kill_at_ns;             /* Start's deadline; 0: none */
};

/* Registers it and starts its pump with `s` (Start's stream, with its
 * keepalive) attached; the start event goes out first.  0, -EAGAIN (too
 * many), -ENOMEM; on failure the process is killed and freed. */
int procs_add(struct procs *ps, struct proc_start *st, struct estream *s, int keepalive_ms,
	      int64_t stream_deadline_ns);

/* The process of sandbox `sbx` that `selector` ({"pid":n} or {"tag":s})
 * names, with a reference (eproc_unref), or NULL. */
struct eproc *procs_find(struct procs *ps, const char *sbx, const json_t *selector);
void eproc_unref(struct eproc *p);

/* Attaches a Connect stream: start{pid}, then new output, then the end.
 * 0, -EAGAIN (too many streams), -ESRCH (it ended meanwhile). */
int eproc_attach(struct eproc *p, struct estream *s, int keepalive_ms, int64_t deadline_ns);

/* The ProcessInfo objects of sandbox `sbx` (caller owns the array). */
json_t *procs_list(struct procs *ps, const char *sbx);

/* Input: `pty` selects the terminal rather than stdin.  0, -EPIPE (stdin
 * closed or none), -EINVAL (wrong kind), -ETIMEDOUT (not read for 5 s). */
int eproc_input(struct eproc *p, bool pty, const char *data, size_t len);
int eproc_close_stdin(struct eproc *p);
int eproc_signal(struct eproc *p, int sig);
int eproc_resize(struct eproc *p, unsigned cols, unsigned rows);

#endif
