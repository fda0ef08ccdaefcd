/* sbxfs: cloud sandboxes as a filesystem.
 *
 * Startup order matters: parse options, resolve and probe the backend (so a
 * wrong URL or key fails at the terminal), mount, daemonize, and only then
 * start threads (the embedded sbxd, the SIGHUP handler, FUSE's workers).
 * "Ready" is when FUSE's init ran: the background parent exits 0 only then
 * (so mount(8) returns once the mount answers) and $NOTIFY_SOCKET gets
 * READY=1 (systemd Type=notify). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>

#include "api/api.h"
#include "cache/cache.h"
#include "config.h"
#include "config/backend.h"
#include "config/options.h"
#include "daemon/embedded.h"
#include "daemon/notify.h"
#include "daemon/reload.h"
#include "fs/fs.h"
#include "store/prefetch.h"
#include "util/log.h"
#include "common/scrub.h"

struct sbxfs_main {
	struct sbxfs_opts opts;
	struct fuse_cmdline_opts cl;
	struct backend backend;
	struct sbxfs fs;
	struct embedded emb;        /* the private sbxd, when no backend is set */
	struct reload hup;          /* the SIGHUP thread */
	struct fuse_operations ops;  /* sbxfs_ops with init_then_ready */
	int ready_fd;               /* to the waiting parent until ready, or -1 */
	char *notify_socket;        /* $NOTIFY_SOCKET, malloc'd, or NULL */
	enum log_level log_level;
	struct envdc *envd;         /* fs/: the sandboxes' agents */
	struct dircache *dirs;      /* fs/: their directories' listings */
	struct files files;
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

/* The backend as people should see it: the socket for the embedded one. */
static const char *shown_url(const struct sbxfs_main *m)
{
	return embedded_url(&m->emb) ? embedded_url(&m->emb) : m->backend.url;
}

/* Starts the private sbxd in the daemon and checks it answers, as the
 * probe does for a remote backend before the mount. */
static int start_embedded(struct sbxfs_main *m)
{
	struct api_error e = { 0 };

	if (embedded_start(&m->emb, &m->backend, m->opts.timeout, m->opts.runtime) < 0)
		return -1;
	if (api_probe(m->fs.store.api, &e) < 0) {
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

	m->fs.store.api = api_new(&cfg, &msg);
	if (m->fs.store.api == NULL) {
		fprintf(stderr, "sbxfs: %s\n", msg ? msg : "cannot set up the HTTP client");
		free(msg);
		return -1;
	}
	if (!m->backend.embedded) {
		err = api_probe(m->fs.store.api, &e);
		if (err < 0) {
			report_probe(&m->backend, err, &e);
			return -1;
		}
	}
	api_set_interrupt(m->fs.store.api, fs_interrupted);
	m->fs.store.cache = cache_new(fetch_list, m->fs.store.api, 1000U * m->opts.cache_ttl);
	if (m->fs.store.cache)
		cache_set_limits(m->fs.store.cache, 1000U * m->opts.stale_ttl,
				 1000U * m->opts.retry_deadline, fs_interrupted);
	m->fs.kcache = kcache_new(0);
	m->fs.kinval = kinval_new();
	m->fs.store.state_unsure = idset_new(1024);
	m->fs.logs = logs_new(m->fs.store.api, 0);
	if (m->fs.store.cache)
		cache_set_listener(m->fs.store.cache, kinval_on_refresh, m->fs.kinval);
	if (m->fs.store.cache == NULL || m->fs.kcache == NULL || m->fs.kinval == NULL ||
	    m->fs.store.state_unsure == NULL || m->fs.logs == NULL) {
		fprintf(stderr, "sbxfs: out of memory\n");
		return -1;
	}
	m->fs.template_id = m->opts.template_id;
	m->fs.store.timeout = m->opts.timeout;
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

/* envd's base for every sandbox: -o sandbox_url, else the provider's
 * variable, else its own sbxd for the embedded one; NULL: each sandbox's
 * own host under its domain. */
static const char *sandbox_url(const struct sbxfs_main *m)
{
	const char *v = NULL;

	if (m->opts.sandbox_url)
		return m->opts.sandbox_url;
	if (m->backend.provider == PROVIDER_NOVITA)
		v = getenv("NOVITA_SANDBOX_URL");
	else if (m->backend.provider == PROVIDER_E2B)
		v = getenv("E2B_SANDBOX_URL");
	else if (m->backend.embedded)
		v = m->backend.url;
	return v && *v ? v : NULL;
}

/* MOUNT/<sbx>/fs/: the envd client, the listings' cache and the store. */
static int setup_files(struct sbxfs_main *m)
{
	struct envdc_config cfg = {
		.sandbox_url = sandbox_url(m),
		.domain = m->backend.domain,
		.provider = backend_provider_name(m->backend.provider),
		.user = m->opts.fs_user_name,
		.cafile = m->opts.cafile,
		.connect_timeout_ms = 1000L * m->opts.connect_timeout,
		.request_timeout_ms = 1000L * m->opts.request_timeout,
		.deadline_ms = 1000L * m->opts.retry_deadline,
	};
	char *msg = NULL;

	/* A custom backend names no domain: without a URL there is no way to
	 * a sandbox's agent, and no fs/ directories. */
	if (cfg.sandbox_url == NULL && cfg.domain == NULL) {
		log_info("no sandbox_url and no domain: no fs/ directories");
		return 0;
	}
	m->envd = envdc_new(&cfg, &msg);
	m->dirs = dircache_new(1000U * m->opts.fs_cache_ttl, 512);
	if (m->envd == NULL || m->dirs == NULL) {
		fprintf(stderr, "sbxfs: %s\n", msg ? msg : "out of memory");
		free(msg);
		return -1;
	}
	envdc_set_interrupt(m->envd, fs_interrupted);
	m->files.envd = m->envd;
	m->files.api = m->fs.store.api;
	m->files.dirs = m->dirs;
	m->files.max_file = m->opts.fs_max_file;
	files_init(&m->files);
	/* Bodies fetched ahead are used for at most the listing TTL, and
	 * 2 s: they stand for a read the walker would have sent then. */
	m->files.pf = prefetch_new(&m->files, m->opts.fs_cache_ttl ?
				   (m->opts.fs_cache_ttl > 2 ? 2000U : 1000U * m->opts.fs_cache_ttl) : 0);
	m->fs.files = &m->files;
	/* MOUNT/<sbx>/procs/: its threads start with the first process, so
	 * after daemonizing. */
	struct proctab_config pc = {
		.envd = m->envd, .files = &m->files, .user = m->opts.fs_user_name,
		.output_max = m->opts.proc_output_max, .max_procs = m->opts.max_procs,
		.list_ttl_ms = 1000U * m->opts.fs_cache_ttl,
		.grew = procs_output_grew, .grew_ctx = &m->fs,
	};

	if ((m->fs.procs = proctab_new(&pc)) == NULL) {
		fprintf(stderr, "sbxfs: out of memory\n");
		return -1;
	}
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

/* The mount answers: tell the waiting parent and the service manager. */
static void announce_ready(struct sbxfs_main *m)
{
	char state[1200];

	snprintf(state, sizeof(state), "READY=1\nMAINPID=%ld\nSTATUS=%s mounted on %s",
		 (long)getpid(), shown_url(m) ? shown_url(m) : "?", m->cl.mountpoint);
	sd_notify_state(m->notify_socket, state);
	tell_parent_ready(&m->ready_fd);
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

/* libfuse 3.12's loop, whose configuration (fuse_loop_cfg_*, an opaque
 * struct despite the name it has under FUSE_USE_VERSION 35) carries
 * max_threads: the 3.5 loop caps its workers at 10, and a read of
 * procs/NAME/exit holds one until its process ends, so ten of them would
 * stall the mount. */
int fuse_loop_mt_312(struct fuse *f, struct fuse_loop_config *config);

/* Workers beyond the waits for exit that max_procs allows. */
#define SPARE_WORKERS 16

static int loop_mt(struct sbxfs_main *m, struct fuse *fuse)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int ret;

	if (cfg == NULL)
		return 1;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)m->cl.clone_fd);
	fuse_loop_cfg_set_idle_threads(cfg, m->cl.max_idle_threads == UINT_MAX
				       ? 10 : m->cl.max_idle_threads);
	fuse_loop_cfg_set_max_threads(cfg, m->opts.max_procs + SPARE_WORKERS);
	ret = fuse_loop_mt_312(fuse, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

/* Mounts, daemonizes and serves until unmounted.  Returns the exit code. */
static int serve(struct sbxfs_main *m, struct fuse_args *args)
{
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
	if (!m->cl.foreground && daemonize(&m->ready_fd) != 0)
		goto out_unmount;
	/* Every thread from here on inherits SIGHUP blocked; the reload thread takes it. */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);
	if (m->backend.embedded && start_embedded(m) < 0)
		goto out_unmount;
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out_unmount;
	m->hup.log_target = m->opts.log_target;
	m->hup.log_level = m->log_level;
	m->hup.key_file = m->opts.api_key_file;
	m->hup.api = m->fs.store.api;
	m->hup.cache = m->fs.store.cache;
	(void)reload_start(&m->hup);    /* without it SIGHUP stays blocked: ignored */
	log_info("mounted %s (provider=%s) on %s", shown_url(m),
		 backend_provider_name(m->backend.provider), m->cl.mountpoint);
	/* libfuse's "unset" idle threads (UINT_MAX) become its default of 10
	 * rather than a warning on stderr. */
	ret = m->cl.singlethread ? fuse_loop(fuse) : loop_mt(m, fuse);
	/* The loop returns the signal that ended it: a requested unmount. */
	ret = ret == 0 || ret == SIGINT || ret == SIGTERM ? 0 : 1;
	sd_notify_state(m->notify_socket, "STOPPING=1");
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
	reload_stop(&m->hup);
	embedded_stop(&m->emb);
	if (m->ready_fd >= 0)
		close(m->ready_fd);     /* the parent exits with our status */
	free(m->notify_socket);
	if (m->fs.store.cache)
		cache_free(m->fs.store.cache);
	kcache_free(m->fs.kcache);
	kinval_free(m->fs.kinval);
	proctab_free(m->fs.procs);
	if (m->fs.files)
		files_fini(&m->files);
	dircache_free(m->dirs);
	envdc_free(m->envd);
	idset_free(m->fs.store.state_unsure);
	logs_free(m->fs.logs);
	if (m->fs.store.api)
		api_free(m->fs.store.api);
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
	struct sbxfs_main m = { .emb.listen_fd = -1, .ready_fd = -1 };
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
	if (setup_log(&m) < 0 || (m.backend.embedded && embedded_setup(&m.emb, &m.backend) < 0) ||
	    setup_client(&m) < 0 || setup_files(&m) < 0)
		goto out;
	ret = serve(&m, &args);
out:
	free(msg);
	teardown(&m);
	fuse_opt_free_args(&args);
	curl_global_cleanup();
	return ret;
}
