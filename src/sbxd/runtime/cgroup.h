/* Control groups of sandboxes: memory and process limits, the CPU quota,
 * freezing, and killing every process of a sandbox.  Works with cgroup v2
 * (a pure v2 machine: /sys/fs/cgroup/cgroup.controllers) and with the v1
 * memory, pids, cpu and freezer hierarchies, each optional.  Each sandbox
 * gets GROUP/sbxd/ID in every hierarchy used. */
#ifndef SBXD_CGROUP_H
#define SBXD_CGROUP_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum cg_mode { CG_NONE, CG_V1, CG_V2 };

/* What this machine offers; filled once by cg_detect, then read-only. */
struct cg_sys {
	enum cg_mode mode;
	char v2[PATH_MAX];          /* v2: the parent of our groups */
	char mem[PATH_MAX], pids[PATH_MAX], cpu[PATH_MAX], freezer[PATH_MAX]; /* v1 */
	bool has_mem, has_pids, has_cpu, has_freeze;
};

struct cg;

/* Finds the hierarchies we may write (root, usually).  Never fails: what
 * is missing is off in *sys. */
void cg_detect(struct cg_sys *sys);

/* Makes the groups of sandbox id with its limits (memory_mb, pids_max,
 * cpus; 0: none).  NULL with *rc when a group cannot be made. */
struct cg *cg_new(const struct cg_sys *sys, const char *id, int memory_mb, int pids_max,
		  int cpus, int *rc);
/* Moves pid into every group. 0 or -errno. */
int cg_enter(struct cg *cg, pid_t pid);
/* Freezes or thaws every process; waits (bounded) until they are. */
int cg_freeze(struct cg *cg, bool frozen);
/* Number of processes in the groups, or -errno. */
int cg_count(struct cg *cg);
/* SIGKILLs every process of the groups until none is left (bounded).
 * 0, or -EBUSY when some survived the bound. */
int cg_kill(struct cg *cg);
/* Removes the groups (they must be empty) and frees cg; NULL is a no-op. */
void cg_free(struct cg *cg);
/* What the groups' processes use: CPU time (µs, since the groups were
 * made; with v1's cpu controller alone, summed from /proc over the live
 * processes and what they reaped), memory and of it page cache (bytes).
 * 0, or -EOPNOTSUPP when the machine counts neither. */
int cg_usage(struct cg *cg, uint64_t *cpu_us, uint64_t *mem, uint64_t *cache);
/* The group directory that holds the process list ("cgroup.procs"). */
const char *cg_procs_dir(const struct cg *cg);

/* {"cgroup": "v1"|"v2"|"none", "memory": bool, "pids": bool, "cpu": bool,
 *  "freezer": "cgroup"|"sigstop"} (caller owns). */
json_t *cg_sys_json(const struct cg_sys *sys);

#endif
