/* Private to runtime/: the backend table, the sandbox ("box") record every
 * backend shares, and the helpers the backend files share.
 *
 * Lock order: rt->lock (the box list) before a box's lock; neither is held
 * across a fork, a wait or a tree removal except a box's own lock, which
 * serialises the slow steps of that one sandbox. */
#ifndef SBXD_RT_PRIV_H
#define SBXD_RT_PRIV_H

#include "runtime/cgroup.h"
#include "runtime/runtime.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#define RT_UID_RANGE 65536      /* sandbox uids 0..65535 map to base..base+65535 */
#define RT_USER_UID 1000        /* `user` inside the sandbox */
/* Where a sandbox's launcher binds its root and init (see bwrap.c). */
#define RT_ANCHOR_DIR "/run/sbxd"
#define RT_ANCHOR_ROOT RT_ANCHOR_DIR "/root"
#define RT_ANCHOR_INIT RT_ANCHOR_DIR "/init"

struct rt_box {
	char id[65];
	int refs;                   /* under rt->lock */
	bool gone;                  /* destroyed: unlinked, refs drain */
	struct rt_box *next;        /* rt->boxes chain, under rt->lock */

	/* Guards everything below and serialises this sandbox's slow steps. */
	pthread_mutex_t lock;
	char dir[PATH_MAX];         /* host: ROOTS/ID */
	char root[PATH_MAX];        /* host: ROOTS/ID/root, "/" for dir */
	bool overlay;               /* root is an overlay mount of ours */
	json_t *env;                /* the sandbox's envVars (owned) */
	bool frozen;
	pid_t bwrap_pid;            /* our child; 0: no processes */
	int bwrap_pidfd;
	pid_t init_pid;             /* host pid of init */
	int init_pidfd;
	int ctl;                    /* control socket to init, or -1 */
	pid_t net_pid;              /* pasta / slirp4netns, 0: none */
	int net_exit;               /* slirp4netns's --exit-fd pipe (ours), or -1 */
	int net_ready;              /* its --ready-fd pipe until it said ready, or -1 */
	struct cg *cg;
	int cpus;                   /* its cpuCount, for the CPU share */
	uint64_t last_cpu_us;       /* the previous rt_usage sample */
	int64_t last_ms;            /* its monotonic time; 0: none yet */
};

struct rt_ops {
	/* Builds (restore: reuses) the root and starts what runs; b->lock
	 * held.  On failure leaves nothing running. */
	int (*start)(struct rt *rt, struct rt_box *b, const struct rt_box_spec *spec,
		     char *err, size_t errlen);
	int (*freeze)(struct rt *rt, struct rt_box *b);
	int (*thaw)(struct rt *rt, struct rt_box *b);
	/* Every process gone (bounded; SIGKILL); the root stays. */
	void (*stop)(struct rt *rt, struct rt_box *b);
};

struct rt {
	enum rt_kind kind;
	const struct rt_ops *ops;
	char roots[PATH_MAX];       /* ROOTS: STATE/sandboxes or a temp dir */
	bool private_roots;         /* a temp dir of ours: removed by rt_free */
	bool mapped;                /* we write uid maps (sbxd is root) */
	uid_t base_uid;             /* host uid of sandbox uid 0 when mapped */
	gid_t base_gid;
	char bwrap[PATH_MAX];
	char init[PATH_MAX];
	char net_tool[PATH_MAX];    /* pasta or slirp4netns; "" none */
	bool net_as_root;           /* slirp4netns runs as root (net.c) */
	bool overlay_ok;            /* a rootfs gets an overlay (else a copy) */
	int idmap_ns;               /* user namespace of the sandbox map, or -1 */
	struct cg_sys cgs;
	struct launcher *launcher;  /* bwrap: the thread that forks sandboxes */

	/* Guards the box list and every box's refs / gone / next. */
	pthread_mutex_t lock;
	struct rt_box *boxes;
};

extern const struct rt_ops rt_record_ops, rt_dir_ops, rt_bwrap_ops;

/* ---- runtime.c -------------------------------------------------------- */

/* A reference to box id (release with box_put), or NULL. */
struct rt_box *box_get(struct rt *rt, const char *id);
void box_put(struct rt *rt, struct rt_box *b);
/* The first executable `name` on $PATH into out; false if none. */
bool rt_find_program(const char *name, char *out, size_t outlen);

/* ---- rootfs.c: the directories of a sandbox ---------------------------- */

/* Builds the base root at b->root (passwd, group, homes, tmp), owned by
 * the sandbox's host uids.  0 or -errno with err. */
int rootfs_build(struct rt *rt, struct rt_box *b, const struct rt_box_spec *spec,
		 char *err, size_t errlen);
/* Removes b->dir and everything below (never crossing a mount or
 * following a link).  0 or -errno. */
int rootfs_remove(struct rt *rt, struct rt_box *b);
/* Decides overlay or copy for rootfs templates (rt->overlay_ok) and opens
 * rt->idmap_ns; after ROOTS exists.  rootfs_teardown closes it. */
void rootfs_setup(struct rt *rt);
void rootfs_teardown(struct rt *rt);
/* Writes "0 base 65536" to /proc/PID/FILE (uid_map, gid_map). */
int rootfs_write_map(pid_t pid, const char *file, unsigned base);
/* The host uid/gid sandbox uid `u` owns files as. */
uid_t rootfs_host_uid(const struct rt *rt, unsigned u);
gid_t rootfs_host_gid(const struct rt *rt, unsigned g);

/* ---- net.c: the user-mode network of a sandbox ------------------------ */

/* Chooses the stack this machine lets us run (rt->net_tool, "" none). */
void net_pick(struct rt *rt);
/* Starts pasta or slirp4netns for the network namespace of b->init_pid;
 * sets b->net_pid.  0 or -errno (the sandbox then has no network). */
int net_start(struct rt *rt, struct rt_box *b);
/* Waits (at most 3 s) until a starting slirp4netns has configured the
 * sandbox's interface; stops it if it does not.  b->lock held. */
void net_await(struct rt_box *b);
void net_stop(struct rt_box *b);

/* ---- proc.c: processes ------------------------------------------------ */

/* Waits (bounded) for pid, our child, to exit: SIGKILL after `grace_ms`. */
void rt_reap(pid_t pid, int pidfd, int grace_ms);

#endif
