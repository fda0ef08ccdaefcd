/* Mount test fixture: an in-process sbxd on loopback, the built sbxfs
 * mounted on a fresh directory against it, and REST helpers (libcurl) to
 * check effects independently of the mount. */
#ifndef SBXFS_TEST_MNT_H
#define SBXFS_TEST_MNT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

struct sbxd;

struct mnt_opts {
	unsigned cache_ttl;         /* -o cache_ttl */
	const char *extra;          /* more -o options, or NULL */
	const char *log_level;      /* NULL: error (and the log must stay empty) */
	bool allow_log;             /* the log may have lines (no sanitizer reports) */
	unsigned sbxd_max_sandboxes;   /* sbxd's limit; 0: 2000 */
	const char *templates_json;    /* sbxd's templates; NULL: py3tpl only */
	const char *runtime;           /* sbxd's --runtime; NULL: record */
	void (*on_backend)(struct sbxd *s);  /* called after each sbxd start */
};

struct mnt {
	char tmp[64];               /* private temp directory */
	char dir[96];               /* the mountpoint */
	char keyfile[96];
	char logfile[96];
	char tplfile[96];
	char key[64];
	char url[64];
	uint16_t port;
	struct sbxd *sbxd;
	pid_t pid;                  /* the sbxfs process (-f) */
	struct mnt_opts opts;
};

/* The one mount of the running test.  Criterion runs every test in its own
 * process and its fixture in that process's main thread, so this needs no
 * lock. */
extern struct mnt M;

/* Skips (exit 77) when /dev/fuse does not exist; called by main. */
void mnt_require_fuse(void);

/* Fills M for a new test: a private temp dir (tagged for ps and ls /tmp)
 * with the mountpoint, a random key in a key file and a templates file;
 * starts nothing. */
void mnt_prepare(const char *tag, const struct mnt_opts *o);
/* mnt_prepare, then mnt_mount. */
void mnt_start(const struct mnt_opts *o);
/* Starts sbxd and mounts; fails the test when it cannot. */
void mnt_mount(void);
/* Unmounts (lazily if needed), reaps sbxfs, stops sbxd, checks the log and
 * removes the temp dir.  Safe to call twice. */
void mnt_stop(void);
/* Stops the backend only / starts it again on the same port and key. */
void mnt_backend_stop(void);
void mnt_backend_start(void);

/* Path inside the mount (static buffer rotation: valid for a few calls). */
const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs a shell command with MNT set to the mountpoint; returns its exit
 * status (or -1). */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads a whole file; malloc'd (NULL with errno set on failure). */
char *slurp(const char *path, size_t *len);
/* Writes buf with one open(O_WRONLY|O_TRUNC) + write(2); 0 or -errno. */
int put(const char *path, const char *buf);
/* Starts the built sbxfs -f on mountpoint with -o opts, its stdout and
 * stderr appended to logfile; dies with the test process.  Returns its pid. */
pid_t mnt_spawn_sbxfs(const char *mountpoint, const char *opts, const char *logfile);
/* The path to the built sbxfs binary. */
const char *sbxfs_exe(void);

/* REST against the fixture's sbxd.  Returns the HTTP status (0 on
 * transport failure) and, if body is not NULL, the parsed JSON reply. */
long rest(const char *method, const char *path, const char *req, json_t **body);
/* Creates a sandbox (name: NULL or the sbxfs.name metadata); malloc'd ID. */
char *rest_create(const char *tpl, const char *name, const char *extra_meta_json);
/* Number of sandboxes the server lists, running and paused (up to 100). */
size_t rest_count(void);
/* A route counter of GET /sbxd/stats ("GET /v2/sandboxes"), or the total
 * when route is NULL. */
long stats(const char *route);
/* A string field of GET /sandboxes/{id}; malloc'd, NULL if absent/404. */
char *rest_field(const char *id, const char *field);
/* endAt of a sandbox as a Unix time, 0 when unknown. */
time_t rest_end_at(const char *id);

#endif
