/* sbxfs: cloud sandboxes as a filesystem.
 *
 * Startup order matters: parse options, resolve and probe the backend (so a
 * wrong URL or key fails at the terminal), mount, daemonize, and only then
 * start threads (the embedded sbxd, the SIGHUP handler, FUSE's workers).
 * "Ready" is when FUSE's init ran: the background parent exits 0 only then
 * (so mount(8) returns once the mount answers) and $NOTIFY_SOCKET gets
 * READY=1 (systemd Type=notify). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>

#include "api.h"
#include "backend.h"
#include "cache.h"
#include "config.h"
#include "fs.h"
#include "http.h"
#include "log.h"
#include "options.h"
#include "sbxd.h"
#include "scrub.h"

struct sbxfs_main {
	struct sbxfs_opts opts;
	struct fuse_cmdline_opts cl;
	struct backend backend;
	struct sbxfs fs;
	struct sbxd *sbxd;          /* embedded server, or NULL */
	int listen_fd;              /* embedded server's socket until started */
	char *sock_dir;             /* its private 0700 directory, or NULL */
	char *sock_path;            /* the socket in it; both malloc'd */
	char *shown_url;            /* "unix:PATH", for messages and the status */
	pthread_t hup_thread;
	bool hup_started;
	atomic_bool stopping;
	struct fuse_operations ops;  /* sbxfs_ops with init_then_ready */
	int ready_fd;               /* to the waiting parent until ready, or -1 */
	char *notify_socket;        /* $NOTIFY_SOCKET, malloc'd, or NULL */
	enum log_level log_level;
};

static void usage(const char *progname)
{
	printf("usage: %s [SOURCE] MOUNTPOINT [-f] [-d] [-o opt,...]\n"
	       "\n"
	       "Cloud code sandboxes (E2B/Novita REST API) as directories.\n"
	       "SOURCE (fstab's first field) names the mount; an http(s) URL\n"
	       "there is the api_url.\n"
	       "\n"
	       "sbxfs options:\n"
	       "    -o provider=novita|e2b   whose key variable, URL and domain to use\n"
	       "                             (else NOVITA_API_KEY's, else E2B_API_KEY's)\n"
	       "    -o api_url=URL           backend API (a custom one: its key comes only\n"
	       "                             from api_key_file unless -o provider is given)\n"
	       "    -o api_key_file=PATH     API key on the first line\n"
	       "    -o template=NAME         template for mkdir MOUNT/NAME (base)\n"
	       "    -o timeout=SECONDS       timeout of new and resumed sandboxes (300)\n"
	       "    -o cache_ttl=SECONDS     listing cache lifetime, 0 = none (2)\n"
	       "    -o connect_timeout=SECONDS   (5)\n"
	       "    -o request_timeout=SECONDS   per attempt (15)\n"
	       "    -o retry_deadline=SECONDS    all attempts (2 x request_timeout)\n"
	       "    -o stale_ttl=SECONDS     serve an older listing while refreshing, 0 = never (30)\n"
	       "    -o list_deadline=SECONDS     a whole listing (4 x retry_deadline)\n"
	       "    -o max_sandboxes=N       entries a listing may hold (100000)\n"
	       "    -o cafile=PATH           CA certificates for https\n"
	       "    -o log=stderr|syslog|FILE    (stderr with -f, else syslog)\n"
	       "    -o log_level=error|warn|info|debug   (info; debug with -d)\n"
	       "\n"
	       "With no URL and no key, sbxfs serves sandboxes from a private local sbxd.\n"
	       "\n", progname);
	fuse_cmdline_help();
	printf("\n");
}

static int fetch_list(void *ctx, struct sbx ***items, size_t *n, struct api_error *err)
{
	return api_list(ctx, items, n, err);
}

/* Where the private directory goes: $XDG_RUNTIME_DIR when it is ours and
 * closed to others (as pam_systemd makes it), else /tmp. */
static const char *runtime_base(void)
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (x && x[0] == '/' && strlen(x) < 64 && stat(x, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == getuid() && (st.st_mode & 077) == 0)
		return x;
	return "/tmp";
}

/* Makes a fresh 0700 directory of the mounting user and listens on a Unix
 * socket in it, before the fork; the embedded sbxd serves it once the
 * daemon runs.  Nobody else can reach a socket in a directory they cannot
 * search, so the private server is private.  Returns the fd or -errno. */
static int listen_private(struct sbxfs_main *m)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (asprintf(&m->sock_dir, "%s/sbxfs-XXXXXX", runtime_base()) < 0) {
		m->sock_dir = NULL;
		return -ENOMEM;
	}
	if (mkdtemp(m->sock_dir) == NULL) {     /* mode 0700 */
		int err = -errno;

		free(m->sock_dir);
		m->sock_dir = NULL;
		return err;
	}
	if (asprintf(&m->sock_path, "%s/sbxd.sock", m->sock_dir) < 0) {
		m->sock_path = NULL;
		return -ENOMEM;
	}
	if (strlen(m->sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, m->sock_path, strlen(m->sock_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Removes the private directory and its socket (at unmount, or when the
 * set-up failed half-way). */
static void remove_private(struct sbxfs_main *m)
{
	if (m->sock_path)
		unlink(m->sock_path);
	if (m->sock_dir)
		rmdir(m->sock_dir);
	free(m->sock_path);
	free(m->sock_dir);
	m->sock_path = m->sock_dir = NULL;
}

/* A fresh random key for the embedded server, as hex. */
static char *random_key(void)
{
	unsigned char raw[24];
	char *hex = malloc(2 * sizeof(raw) + 1);
	size_t got = 0;

	if (hex == NULL)
		return NULL;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno != EINTR) {
			free(hex);
			return NULL;
		}
		if (n > 0)
			got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return hex;
}

static int setup_embedded(struct sbxfs_main *m)
{
	m->listen_fd = listen_private(m);
	if (m->listen_fd < 0) {
		fprintf(stderr, "sbxfs: cannot make a Unix socket in %s for the local sbxd: %s\n",
			m->sock_dir ? m->sock_dir : runtime_base(), strerror(-m->listen_fd));
		return -1;
	}
	m->backend.key = random_key();
	/* The URL names no port: every request to it goes over the socket. */
	m->backend.url = strdup("http://localhost");
	if (asprintf(&m->shown_url, "unix:%s", m->sock_path) < 0)
		m->shown_url = NULL;
	if (m->backend.key == NULL || m->backend.url == NULL || m->shown_url == NULL ||
	    http_set_unix_socket(m->backend.url, m->sock_path) < 0) {
		fprintf(stderr, "sbxfs: cannot set up the local sbxd\n");
		return -1;
	}
	fprintf(stderr, "sbxfs: no backend configured; serving sandboxes from a private "
		"local sbxd on %s\n", m->shown_url);
	return 0;
}

/* The backend as people should see it: the socket for the embedded one. */
static const char *shown_url(const struct sbxfs_main *m)
{
	return m->shown_url ? m->shown_url : m->backend.url;
}

static void sbxd_log(void *ctx, enum sbxd_log_level level, const char *msg)
{
	static const enum log_level map[] = {
		[SBXD_LOG_ERROR] = LOG_LVL_ERROR, [SBXD_LOG_WARN] = LOG_LVL_WARN,
		[SBXD_LOG_INFO] = LOG_LVL_INFO, [SBXD_LOG_DEBUG] = LOG_LVL_DEBUG,
	};

	(void)ctx;
	if ((unsigned)level < sizeof(map) / sizeof(map[0]) && log_enabled(map[level]))
		log_msg(map[level], "sbxd: %s", msg);
}

static int start_embedded(struct sbxfs_main *m)
{
	struct sbxd_config cfg = {
		.listen_fd = m->listen_fd,
		.api_key = m->backend.key,
		.default_timeout = (unsigned)m->opts.timeout,
		.log = sbxd_log,
		.log_level = log_enabled(LOG_LVL_DEBUG) ? SBXD_LOG_DEBUG : SBXD_LOG_WARN,
	};
	struct api_error e = { 0 };
	char *err = NULL;

	m->sbxd = sbxd_start(&cfg, &err);
	/* sbxd owns the socket now, or closed it if its threads failed. */
	m->listen_fd = -1;
	if (m->sbxd == NULL) {
		log_error("cannot start the local sbxd: %s", err ? err : "unknown error");
		free(err);
		return -1;
	}
	/* Same check as for a remote backend, now that the server runs. */
	if (api_probe(m->fs.api, &e) < 0) {
		log_error("the local sbxd on %s does not answer: %s", shown_url(m), e.message);
		return -1;
	}
	log_info("local sbxd serving on %s", shown_url(m));
	return 0;
}

/* Says why the backend cannot be used, on the terminal (e->message is
 * scrubbed by the API client, which leaves the probe's report to us). */
static void report_probe(const struct backend *b, int err, const struct api_error *e)
{
	const char *url = b->url, *prov = backend_provider_name(b->provider);

	if (e->http_status == 401 || e->http_status == 403)
		fprintf(stderr, "sbxfs: the backend at %s (provider=%s) rejected the API key "
			"(%d): %s\n", url, prov, e->http_status, e->message);
	else if (e->http_status)
		fprintf(stderr, "sbxfs: the backend at %s (provider=%s) answered %d: %s\n", url,
			prov, e->http_status, e->message);
	else if (e->message[0] && strstr(e->message, strerror(-err)) == NULL)
		fprintf(stderr, "sbxfs: cannot reach %s (provider=%s): %s (%s)\n", url, prov,
			strerror(-err), e->message);
	else
		fprintf(stderr, "sbxfs: cannot reach %s (provider=%s): %s\n", url, prov,
			strerror(-err));
}

/* A log file is opened anew, so logrotate can move the old one away and
 * send SIGHUP (the convention of syslog daemons). */
static void reopen_log(struct sbxfs_main *m)
{
	const char *t = m->opts.log_target;
	int err;

	if (t == NULL || strcmp(t, "stderr") == 0 || strcmp(t, "syslog") == 0)
		return;
	err = log_open(t, m->log_level);
	if (err < 0)
		log_error("SIGHUP: cannot reopen the log %s: %s", t, strerror(-err));
	else
		log_info("SIGHUP: reopened the log %s", t);
}

static void reload(struct sbxfs_main *m)
{
	char *key = NULL, *msg = NULL;

	reopen_log(m);
	if (m->opts.api_key_file) {
		if (read_key_file(m->opts.api_key_file, &key, &msg) < 0) {
			log_error("SIGHUP: %s; keeping the old key", msg ? msg : "out of memory");
		} else if (api_set_key(m->fs.api, key) < 0) {
			log_error("SIGHUP: out of memory; the key may not have changed");
		} else {
			log_info("SIGHUP: re-read the API key from %s", m->opts.api_key_file);
		}
		if (key)
			explicit_bzero(key, strlen(key));
		free(key);
		free(msg);
	}
	cache_invalidate(m->fs.cache);
	log_info("SIGHUP: dropped the caches");
}

static void *hup_main(void *arg)
{
	struct sbxfs_main *m = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (atomic_load(&m->stopping))
			break;
		reload(m);
	}
	return NULL;
}

static int setup_client(struct sbxfs_main *m)
{
	struct api_config cfg = {
		.url = m->backend.url,
		.api_key = m->backend.key,
		.cafile = m->opts.cafile,
		.connect_timeout_ms = 1000L * m->opts.connect_timeout,
		.request_timeout_ms = 1000L * m->opts.request_timeout,
		.deadline_ms = 1000L * m->opts.retry_deadline,
		.list_deadline_ms = 1000L * m->opts.list_deadline,
		.max_sandboxes = m->opts.max_sandboxes,
	};
	struct api_error e = { 0 };
	char *msg = NULL;
	int err;

	m->fs.api = api_new(&cfg, &msg);
	if (m->fs.api == NULL) {
		fprintf(stderr, "sbxfs: %s\n", msg ? msg : "cannot set up the HTTP client");
		free(msg);
		return -1;
	}
	if (!m->backend.embedded) {
		err = api_probe(m->fs.api, &e);
		if (err < 0) {
			report_probe(&m->backend, err, &e);
			return -1;
		}
	}
	api_set_interrupt(m->fs.api, fs_interrupted);
	m->fs.cache = cache_new(fetch_list, m->fs.api, 1000U * m->opts.cache_ttl);
	if (m->fs.cache)
		cache_set_limits(m->fs.cache, 1000U * m->opts.stale_ttl,
				 1000U * m->opts.retry_deadline, fs_interrupted);
	m->fs.kcache = kcache_new(0);
	m->fs.kinval = kinval_new();
	m->fs.state_unsure = idset_new(1024);
	if (m->fs.cache)
		cache_set_listener(m->fs.cache, kinval_on_refresh, m->fs.kinval);
	if (m->fs.cache == NULL || m->fs.kcache == NULL || m->fs.kinval == NULL ||
	    m->fs.state_unsure == NULL) {
		fprintf(stderr, "sbxfs: out of memory\n");
		return -1;
	}
	m->fs.template_id = m->opts.template_id;
	m->fs.timeout = m->opts.timeout;
	m->fs.cache_ttl = m->opts.cache_ttl;
	m->fs.stale_ttl = m->opts.stale_ttl;
	m->fs.backend_url = shown_url(m);
	m->fs.provider = backend_provider_name(m->backend.provider);
	m->fs.embedded = m->backend.embedded;
	m->fs.uid = getuid();
	m->fs.gid = getgid();
	m->fs.mount_time = time(NULL);
	return 0;
}

static int setup_log(struct sbxfs_main *m)
{
	const char *target = m->opts.log_target;
	enum log_level level = m->opts.log_level_set ? m->opts.log_level
			     : m->cl.debug ? LOG_LVL_DEBUG : LOG_LVL_INFO;
	int err;

	if (target == NULL)
		target = m->cl.foreground ? "stderr" : "syslog";
	m->log_level = level;
	err = log_open(target, level);
	if (err < 0) {
		fprintf(stderr, "sbxfs: cannot open the log %s: %s\n", target, strerror(-err));
		return -1;
	}
	return 0;
}

/* Sends state to the service manager: one datagram on the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a leading '@' is the abstract namespace), the
 * protocol of sd_notify(3).  Nothing happens when it is unset. */
static void notify(const struct sbxfs_main *m, const char *state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = m->notify_socket;
	size_t len;
	int fd;

	if (path == NULL)
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len < 2 || len >= sizeof(sa.sun_path)) {
		log_warn("ignoring NOTIFY_SOCKET %s: not a socket path", path);
		return;
	}
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		log_warn("cannot notify %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* The mount answers: tell the waiting parent and the service manager. */
static void announce_ready(struct sbxfs_main *m)
{
	char state[1200];

	snprintf(state, sizeof(state), "READY=1\nMAINPID=%ld\nSTATUS=%s mounted on %s",
		 (long)getpid(), shown_url(m) ? shown_url(m) : "?", m->cl.mountpoint);
	notify(m, state);
	if (m->ready_fd >= 0) {
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);

		/* Detach from the terminal now that there is nothing more to
		 * say on it; messages go to the log. */
		if (nul >= 0) {
			dup2(nul, STDOUT_FILENO);
			dup2(nul, STDERR_FILENO);
			close(nul);
		}
		if (write(m->ready_fd, "", 1) != 1)
			log_warn("cannot tell the parent process that the mount is ready");
		close(m->ready_fd);
		m->ready_fd = -1;
	}
}

/* FUSE's init: sbxfs's own, then the announcement.  FUSE handles no other
 * request before init returns, so anything that touches the mount after
 * READY is served. */
static void *init_then_ready(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct sbxfs *fs = sbxfs_ops.init(conn, cfg);
	struct sbxfs_main *m = (struct sbxfs_main *)((char *)fs - offsetof(struct sbxfs_main, fs));

	announce_ready(m);
	return fs;
}

/* Goes to the background.  Unlike fuse_daemonize(), the parent waits
 * until the mount answers and exits 0, or exits with the daemon's status
 * if it gives up first: so `mount /mnt/sbx` and a Type=forking unit see
 * the real outcome.  Returns 0 in the daemon, -1 when it cannot fork. */
static int daemonize(struct sbxfs_main *m)
{
	int p[2], nul, status;
	ssize_t n;
	char c;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "sbxfs: pipe: %s\n", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "sbxfs: fork: %s\n", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(0);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status))
			_exit(WEXITSTATUS(status));
		_exit(1);
	}
	close(p[0]);
	m->ready_fd = p[1];
	if (setsid() < 0 || chdir("/") < 0)
		log_warn("daemonize: %s", strerror(errno));
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, STDIN_FILENO);
		close(nul);
	}
	return 0;
}

/* Mounts, daemonizes and serves until unmounted.  Returns the exit code. */
static int serve(struct sbxfs_main *m, struct fuse_args *args)
{
	/* libfuse's "unset" (UINT_MAX) becomes its default of 10 idle threads
	 * rather than a warning on stderr. */
	struct fuse_loop_config lc = { .clone_fd = m->cl.clone_fd,
				       .max_idle_threads = m->cl.max_idle_threads == UINT_MAX
							   ? 10 : m->cl.max_idle_threads };
	struct fuse *fuse;
	sigset_t hup;
	int ret = 1;

	m->ops = sbxfs_ops;
	m->ops.init = init_then_ready;
	fuse = fuse_new(args, &m->ops, sizeof(m->ops), &m->fs);
	if (fuse == NULL)
		return 1;
	if (fuse_mount(fuse, m->cl.mountpoint) != 0)
		goto out_destroy;
	if (!m->cl.foreground && daemonize(m) != 0)
		goto out_unmount;
	/* Every thread from here on inherits SIGHUP blocked; hup_main takes it. */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);
	if (m->backend.embedded && start_embedded(m) < 0)
		goto out_unmount;
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out_unmount;
	if (pthread_create(&m->hup_thread, NULL, hup_main, m) == 0)
		m->hup_started = true;
	log_info("mounted %s (provider=%s) on %s", shown_url(m),
		 backend_provider_name(m->backend.provider), m->cl.mountpoint);
	ret = m->cl.singlethread ? fuse_loop(fuse) : fuse_loop_mt(fuse, &lc);
	/* The loop returns the signal that ended it: a requested unmount. */
	ret = ret == 0 || ret == SIGINT || ret == SIGTERM ? 0 : 1;
	notify(m, "STOPPING=1");
	log_info("unmounting %s", m->cl.mountpoint);
	fuse_remove_signal_handlers(fuse_get_session(fuse));
out_unmount:
	fuse_unmount(fuse);
out_destroy:
	fuse_destroy(fuse);
	return ret;
}

static void teardown(struct sbxfs_main *m)
{
	if (m->hup_started) {
		atomic_store(&m->stopping, true);
		pthread_kill(m->hup_thread, SIGHUP);
		pthread_join(m->hup_thread, NULL);
	}
	if (m->sbxd)
		sbxd_stop(m->sbxd);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	remove_private(m);
	http_set_unix_socket(NULL, NULL);
	free(m->shown_url);
	if (m->ready_fd >= 0)
		close(m->ready_fd);     /* the parent exits with our status */
	free(m->notify_socket);
	if (m->fs.cache)
		cache_free(m->fs.cache);
	kcache_free(m->fs.kcache);
	kinval_free(m->fs.kinval);
	idset_free(m->fs.state_unsure);
	if (m->fs.api)
		api_free(m->fs.api);
	backend_clear(&m->backend);
	scrub_reset();
	opts_free(&m->opts);
	free(m->cl.mountpoint);
	log_close();
}

/* --version: the build, and the backend this command line would use. */
static void print_version(const struct sbxfs_opts *o)
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	struct backend b;
	char *msg = NULL;

	printf("sbxfs %s\n"
	       "build: %s\n"
	       "FUSE library %s, libcurl %s (%s), jansson %s\n"
	       "backend: E2B/Novita sandbox REST API; embedded sbxd %s\n",
	       SBXFS_VERSION, SBXFS_BUILD_OPTIONS, fuse_pkgversion(), cv->version,
	       cv->ssl_version ? cv->ssl_version : "no TLS", JANSSON_VERSION, SBXFS_VERSION);
	if (backend_resolve(o, &b, &msg) < 0) {
		printf("provider=none (%s)\n", msg ? msg : "out of memory");
	} else {
		printf("provider=%s url=%s\n", backend_provider_name(b.provider),
		       b.embedded ? "(a private local sbxd)" : b.url);
		fflush(stdout);
		if (b.notice)
			fprintf(stderr, "sbxfs: %s\n", b.notice);
		backend_clear(&b);
	}
	free(msg);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct sbxfs_main m = { .listen_fd = -1, .ready_fd = -1 };
	const char *ns = getenv("NOTIFY_SOCKET");
	char *msg = NULL;
	int ret = 1;

	/* Taken out of the environment before any thread starts; nothing
	 * sbxfs runs (fusermount3) is meant to notify. */
	if (ns && *ns)
		m.notify_socket = strdup(ns);
	unsetenv("NOTIFY_SOCKET");
	/* glibc gives each FUSE worker thread its own malloc arena and keeps
	 * what they free: listing 10000 sandboxes peaked at ~58 MiB RSS for an
	 * 11 MB heap.  Two arenas keep the peak near the heap (~31 MiB) at no
	 * measurable cost; an explicit MALLOC_ARENA_MAX still wins. */
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		mallopt(M_ARENA_MAX, 2);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	json_object_seed(0);

	if (opts_parse(&args, &m.opts, stderr) < 0 || fuse_parse_cmdline(&args, &m.cl) != 0)
		goto out;
	if (m.cl.show_help) {
		usage(argv[0]);
		fuse_lib_help(&args);
		ret = 0;
		goto out;
	}
	if (m.cl.show_version) {
		print_version(&m.opts);
		ret = 0;
		goto out;
	}
	if (m.cl.mountpoint == NULL) {
		fprintf(stderr, "sbxfs: no mountpoint given (try --help)\n");
		goto out;
	}
	if (backend_resolve(&m.opts, &m.backend, &msg) < 0) {
		fprintf(stderr, "sbxfs: %s\n", msg ? msg : "out of memory");
		goto out;
	}
	if (m.backend.notice)
		fprintf(stderr, "sbxfs: %s\n", m.backend.notice);
	if (setup_log(&m) < 0 || (m.backend.embedded && setup_embedded(&m) < 0) ||
	    setup_client(&m) < 0)
		goto out;
	ret = serve(&m, &args);
out:
	free(msg);
	teardown(&m);
	fuse_opt_free_args(&args);
	curl_global_cleanup();
	return ret;
}
