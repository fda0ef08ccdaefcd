/* A sandbox's processes as the filesystem asks for them
 * (MOUNT/<sbx>/procs/): the slots made here, and the processes envd lists
 * (started elsewhere), each with its output spooled locally.
 *
 * A slot is made by proctab_mkdir and set up (cwd, env, user) until its
 * command starts it: one Start stream, read by a thread of the slot's own
 * until the process ends; after a dropped connection the thread attaches
 * again with Connect (by pid).  A process started elsewhere gets a slot
 * when first named, and a thread (Connect) when its output or exit is
 * first opened: its output from then on.  At most max_procs threads run
 * at once; past that a start or an attach is -EAGAIN with the reason in
 * the slot's status.
 *
 * Output: per stream an unlinked temporary file used as a ring of
 * output_max bytes; offsets are those of the whole output, bytes older
 * than the ring holds read as NULs, and status counts them.
 *
 * No FUSE here; every function returns 0 or -errno, is thread-safe and
 * holds no lock over a request.  Reads never send anything that changes
 * a process.  Slots are named by (sandbox ID, name). */
#ifndef SBXFS_STORE_PROCS_H
#define SBXFS_STORE_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envd/client.h"
#include "files.h"

struct proctab;

struct proctab_config {
	struct envdc *envd;        /* borrowed */
	struct files *files;       /* borrowed: the sandboxes' endpoints */
	const char *user;          /* default user of a process (copied) */
	uint64_t output_max;       /* bytes kept per stream; 0: 64 MiB */
	unsigned max_procs;        /* threads attached at once; 0: 64 */
	unsigned list_ttl_ms;      /* how long a List reply is used */
	/* Called (from a stream's thread, no lock held) when a process's
	 * output grew or it ended, so the files showing it can say so; NULL:
	 * nobody is told. */
	void (*grew)(void *ctx, const char *id, const char *name);
	void *grew_ctx;
};

enum proctab_stream { PROCS_STDOUT, PROCS_STDERR };

/* The settable values of a slot before its start. */
enum proctab_setting { PROCS_CWD, PROCS_ENV, PROCS_USER };

/* The rendered values of a slot. */
enum proctab_value { PROCS_V_CMD, PROCS_V_PID, PROCS_V_STATUS, PROCS_V_CWD, PROCS_V_ENV,
		   PROCS_V_USER };

/* NULL on ENOMEM. */
struct proctab *proctab_new(const struct proctab_config *c);
/* Ends every stream (the processes keep running), waits for the threads
 * and frees the slots and their spools. */
void proctab_free(struct proctab *p);

/* The process streams attached now, and max_procs, for the status file. */
void proctab_counts(struct proctab *p, unsigned *attached, unsigned *max);

/* The names under sandbox id's procs/: its slots, then (with ask) what
 * envd lists (a tag, else the pid) not among them; sorted, unique.
 * Caller frees each name and the array.  Without ask nothing is sent
 * (a paused sandbox: asking its agent could resume it). */
int proctab_names(struct proctab *p, const char *id, bool ask, char ***names, size_t *n);
/* 0 if name names a slot or (with ask) a process envd lists of sandbox
 * id, which gets its slot now; else -ENOENT.  The other calls find only
 * slots. */
int proctab_lookup(struct proctab *p, const char *id, const char *name, bool ask);
/* A new slot: -EEXIST when the name is taken, -EINVAL for a bad name,
 * -EAGAIN when max_procs threads are attached. */
int proctab_mkdir(struct proctab *p, const char *id, const char *name);
/* SIGKILL to a running process, then the slot is forgotten. */
int proctab_rmdir(struct proctab *p, const char *id, const char *name);
/* Forgets every slot of sandbox id (it is gone); processes untouched. */
void proctab_forget(struct proctab *p, const char *id);

/* Applies a write to cwd, env (lines added) or user: -EBUSY once started. */
int proctab_set(struct proctab *p, const char *id, const char *name, enum proctab_setting which,
	      const char *buf, size_t len);
/* Starts `/bin/bash -l -c LINE` (buf, one trailing newline dropped) with
 * tag name: -EBUSY when it has a command, -EAGAIN past max_procs; an
 * error of the start itself shows in status (and is returned when it
 * comes within the first seconds). */
int proctab_start(struct proctab *p, const char *id, const char *name, const char *buf,
		size_t len);
int proctab_input(struct proctab *p, const char *id, const char *name, const char *buf,
		size_t len);
int proctab_close_stdin(struct proctab *p, const char *id, const char *name);
/* "TERM" or "KILL" (a trailing newline allowed), else -EINVAL. */
int proctab_signal(struct proctab *p, const char *id, const char *name, const char *buf,
		 size_t len);

/* A value as text ending in a newline ("" when unset); caller frees.
 * With ask, the status of a process started elsewhere that no stream
 * follows is checked against envd's List (cached): one it no longer
 * lists is "failed ended unattached (exit status unknown)". */
int proctab_render(struct proctab *p, const char *id, const char *name, enum proctab_value v,
		   bool ask, char **text, size_t *len);
/* Attaches a thread to a process started elsewhere (0 when it has one or
 * needs none): for the first open of its output or exit. */
int proctab_attach(struct proctab *p, const char *id, const char *name);
/* The size of a stream's output so far. */
int proctab_out_size(struct proctab *p, const char *id, const char *name, enum proctab_stream s,
		   uint64_t *size);
/* Reads the output at off: a count, 0 at its end (never waits). */
int proctab_out_read(struct proctab *p, const char *id, const char *name, enum proctab_stream s,
		   char *buf, size_t size, uint64_t off);
/* Waits until the process ends; *code its exit code (128 + the signal's
 * number when killed).  -EINTR when interrupted() says so (polled every
 * 100 ms), -ECHILD when it was never started, -EIO when it failed. */
int proctab_wait(struct proctab *p, const char *id, const char *name, bool (*interrupted)(void),
	       int *code);

#endif
