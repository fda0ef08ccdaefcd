/* What procs.c (the slots and their calls) shares with proc_run.c (the
 * threads that read the streams, and the spools).  Private to store/. */
#ifndef SBXFS_STORE_PROCS_PRIV_H
#define SBXFS_STORE_PROCS_PRIV_H

#include <limits.h>
#include <pthread.h>

#include "envd/proc.h"
#include "procs.h"

enum pslot_state { PS_NEW, PS_RUNNING, PS_ENDED, PS_FAILED };

/* The output of one stream: a ring of max bytes in an unlinked file. */
struct spool {
	int fd;                     /* -1 until the first byte */
	uint64_t total;             /* bytes produced so far */
};

struct pslot {
	struct pslot *next;
	int refs;                   /* the table's, a thread's, a call's */
	char id[65];
	char name[NAME_MAX + 1];
	bool local;                 /* made here (mkdir), not found in a List */
	enum pslot_state st;
	char *cwd, *user, *cmd;
	char **env;
	size_t n_env;
	unsigned pid;
	int exit_code;              /* PS_ENDED */
	bool exited;
	int sig;                    /* killed by it (exited false) */
	char msg[256];              /* PS_FAILED: why */
	int fail_err;               /* PS_FAILED: the start's -errno */
	char note[160];             /* a refused start or attach */
	struct spool out[2];
	bool attached;              /* a thread reads its stream */
	int cancel;                 /* ends the thread's stream (atomic) */
	bool gone;                  /* out of the table */
};

struct plist;

struct proctab {
	struct proctab_config c;
	pthread_mutex_t lock;       /* slots, every slot's fields, lists,
	                             * nthreads, and the spools' files */
	pthread_cond_t changed;     /* a slot's state or nthreads changed */
	struct pslot *slots;
	struct plist *lists;        /* List replies, per sandbox */
	unsigned nthreads;          /* attached now */
};

/* The slot (id, name) with a reference for the caller (a process envd
 * lists gets its slot now): 0 or -ENOENT.  pslot_put() drops it. */
int pslot_get(struct proctab *p, const char *id, const char *name, struct pslot **out);
void pslot_put(struct proctab *p, struct pslot *s);
/* Takes s out of the table and cancels its stream.  With the lock. */
void pslot_unlink_locked(struct proctab *p, struct pslot *s);
/* Whether envd lists pid in sandbox id (its List, cached): 0 or -errno.
 * Without the lock. */
int plist_lists(struct proctab *p, const char *id, unsigned pid, bool *listed);
/* Forgets the List reply of sandbox id (NULL: all).  With the lock. */
void plist_drop_locked(struct proctab *p, const char *id);

/* Starts slot s's thread (Start when it has no pid, else Connect): 0,
 * or -EAGAIN past max_procs with s->note set.  Called with the lock. */
int pslot_attach_locked(struct proctab *p, struct pslot *s);
/* Drops a reference (the lock held); frees the slot at the last. */
void pslot_unref_locked(struct pslot *s);
/* Appends output; called with the lock. */
void spool_append(struct proctab *p, struct spool *sp, const char *data, size_t len);
/* Reads output at off; called with the lock. */
int spool_read(struct proctab *p, const struct spool *sp, char *buf, size_t size, uint64_t off);
void spool_clear(struct spool *sp);

#endif
