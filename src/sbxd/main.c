/* sbxd: the program around the library.  Parses the command line, settles
 * the API key, starts the server and waits for signals. */
#include "sbxd.h"

#include "api/auth.h"
#include "common/keyfile.h"
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct opts {
	char host[256];
	unsigned port;
	const char *unix_path;          /* --listen unix:PATH */
	unsigned threads, max_conns, max_per_ip, request_timeout, idle_timeout;
	bool allow_remote;
	const char *ready_file;
	const char *key_file;
	const char *state_dir;
	const char *templates;
	unsigned max_sandboxes, max_timeout, default_timeout;
	bool faults;
	const char *runtime;
	unsigned sandbox_uid;
	enum sbxd_log_level level;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: sbxd [OPTION]...\n"
		"Serve the E2B/Novita sandbox REST API locally.\n\n"
		"  --listen HOST:PORT      address to listen on (default 127.0.0.1:49982;\n"
		"                          port 0 picks a free port)\n"
		"  --listen unix:PATH      listen on a Unix domain socket instead\n"
		"  --allow-remote          permit a non-loopback listen address\n"
		"  --ready-file FILE       write the bound port there once listening\n"
		"  --api-key-file FILE     read the API key from FILE (wins over SBXD_API_KEY)\n"
		"  --state-dir DIR         persist sandboxes in DIR and reload them at start\n"
		"  --templates FILE        JSON array of extra templates\n"
		"  --max-sandboxes N       sandbox limit (default 1000)\n"
		"  --max-timeout SECS      largest accepted timeout (default 86400)\n"
		"  --default-timeout SECS  timeout when a create gives none (default 300)\n"
		"  --threads N             worker threads (default 8)\n"
		"  --max-connections N     connections served at once; more get 503\n"
		"                          (default 4096)\n"
		"  --max-connections-per-ip N  the same per remote address (default 256)\n"
		"  --request-timeout SECS  time to send a whole request (default 10)\n"
		"  --idle-timeout SECS     time a kept-alive connection may idle (default 60)\n"
		"  --runtime KIND          what a sandbox is: record (records only), dir\n"
		"                          (a root directory, no processes), bwrap\n"
		"                          (isolated processes) or auto (default: bwrap\n"
		"                          where it can run, else record)\n"
		"  --sandbox-uid UID       as root: host uid of a sandbox's root; its user\n"
		"                          is UID+1000 (default 1000000)\n"
		"  --faults                enable the /sbxd/faults fault-injection API\n"
		"  --log-level LEVEL       error, warn, info (default) or debug\n"
		"  --help                  show this help\n"
		"  --version               show the version\n\n"
		"Without a key, sbxd generates one and prints where it stored it.\n"
		"bwrap enforces memoryMB and the process limit (256 per CPU) through\n"
		"cgroups where sbxd may write them (as root), cpuCount as a CPU quota;\n"
		"diskSizeMB is not enforced.  /sbxd/stats says what is.  Not root,\n"
		"a sandbox has one uid (user) and its root is a nested user namespace\n"
		"with no more power.\n"
		"See sbxd(8).\n");
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* HOST:PORT, [V6]:PORT, :PORT or unix:PATH. */
static int parse_listen(const char *s, struct opts *o)
{
	const char *colon = strrchr(s, ':');
	size_t hl;

	if (strncmp(s, "unix:", 5) == 0) {
		/* sun_path holds 108 bytes with the NUL. */
		if (s[5] == '\0' || strlen(s + 5) > 107)
			return -1;
		o->unix_path = s + 5;
		return 0;
	}
	o->unix_path = NULL;
	if (!colon || parse_uint(colon + 1, 0, 65535, &o->port) < 0)
		return -1;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(o->host))
		return -1;
	if (hl == 0) {
		snprintf(o->host, sizeof(o->host), "127.0.0.1");
		return 0;
	}
	memcpy(o->host, s, hl);
	o->host[hl] = '\0';
	return 0;
}

static int parse_level(const char *s, enum sbxd_log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum sbxd_log_level)i;
			return 0;
		}
	return -1;
}

static int parse_runtime(const char *s, const char **out)
{
	static const char *const kinds[] = { "record", "dir", "bwrap", "auto" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, kinds[i]) == 0) {
			*out = kinds[i];
			return 0;
		}
	return -1;
}

/* The long options; each value indexes longopts (less O_LISTEN). */
enum { O_LISTEN = 256, O_REMOTE, O_READY, O_KEYFILE, O_STATE, O_TPL, O_MAXSBX,
       O_MAXTO, O_DEFTO, O_FAULTS, O_LEVEL, O_HELP, O_VERSION, O_THREADS, O_MAXCONN,
       O_PERIP, O_REQTO, O_IDLETO, O_RUNTIME, O_SBXUID };
static const struct option longopts[] = {
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "allow-remote", no_argument, NULL, O_REMOTE },
	{ "ready-file", required_argument, NULL, O_READY },
	{ "api-key-file", required_argument, NULL, O_KEYFILE },
	{ "state-dir", required_argument, NULL, O_STATE },
	{ "templates", required_argument, NULL, O_TPL },
	{ "max-sandboxes", required_argument, NULL, O_MAXSBX },
	{ "max-timeout", required_argument, NULL, O_MAXTO },
	{ "default-timeout", required_argument, NULL, O_DEFTO },
	{ "faults", no_argument, NULL, O_FAULTS },
	{ "log-level", required_argument, NULL, O_LEVEL },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "max-connections", required_argument, NULL, O_MAXCONN },
	{ "max-connections-per-ip", required_argument, NULL, O_PERIP },
	{ "request-timeout", required_argument, NULL, O_REQTO },
	{ "idle-timeout", required_argument, NULL, O_IDLETO },
	{ "runtime", required_argument, NULL, O_RUNTIME },
	{ "sandbox-uid", required_argument, NULL, O_SBXUID },
	{ NULL, 0, NULL, 0 },
};

/* Applies option c (its argument in optarg): 0, -1 for a bad value, -2
 * for an unknown option (usage shown). */
static int take_option(int c, struct opts *o)
{
	int bad = 0;

	switch (c) {
	case O_LISTEN: bad = parse_listen(optarg, o); break;
	case O_REMOTE: o->allow_remote = true; break;
	case O_READY: o->ready_file = optarg; break;
	case O_KEYFILE: o->key_file = optarg; break;
	case O_STATE: o->state_dir = optarg; break;
	case O_TPL: o->templates = optarg; break;
	case O_MAXSBX: bad = parse_uint(optarg, 1, 10000000, &o->max_sandboxes); break;
	case O_MAXTO: bad = parse_uint(optarg, 1, 31536000, &o->max_timeout); break;
	case O_DEFTO: bad = parse_uint(optarg, 1, 31536000, &o->default_timeout); break;
	case O_FAULTS: o->faults = true; break;
	case O_LEVEL: bad = parse_level(optarg, &o->level); break;
	case O_HELP: usage(stdout); exit(0);
	case O_VERSION: printf("sbxd %s\n", SBXFS_VERSION); exit(0);
	case O_THREADS: bad = parse_uint(optarg, 1, 256, &o->threads); break;
	case O_MAXCONN: bad = parse_uint(optarg, 1, 1000000, &o->max_conns); break;
	case O_PERIP: bad = parse_uint(optarg, 1, 1000000, &o->max_per_ip); break;
	case O_REQTO: bad = parse_uint(optarg, 1, 3600, &o->request_timeout); break;
	case O_IDLETO: bad = parse_uint(optarg, 1, 86400, &o->idle_timeout); break;
	case O_RUNTIME: bad = parse_runtime(optarg, &o->runtime); break;
	case O_SBXUID: bad = parse_uint(optarg, 1, 4294967295u - 65536, &o->sandbox_uid); break;
	default: usage(stderr); return -2;
	}
	return bad ? -1 : 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int rc = take_option(c, o);

		if (rc == -2)
			return -1;
		if (rc < 0) {
			fprintf(stderr, "sbxd: invalid value for --%s: %s\n",
				longopts[c - O_LISTEN].name, optarg);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sbxd: unexpected argument: %s\n", argv[optind]);
		return -1;
	}
	if (o->default_timeout && o->max_timeout && o->default_timeout > o->max_timeout) {
		fprintf(stderr, "sbxd: --default-timeout exceeds --max-timeout\n");
		return -1;
	}
	return 0;
}

/* Settles the key: --api-key-file, else $SBXD_API_KEY, else a generated
 * one kept in a private file whose path (never the key) is printed. */
static int get_key(const struct opts *o, char **key)
{
	const char *env = getenv("SBXD_API_KEY");
	char path[PATH_MAX], *err = NULL;
	int rc;

	if (o->key_file) {
		rc = keyfile_read(o->key_file, key);
		if (rc < 0)
			fprintf(stderr, "sbxd: %s: %s\n", o->key_file,
				rc == -EINVAL ? "no key in file" : strerror(-rc));
		return rc;
	}
	if (env && *env) {
		*key = strdup(env);
		return *key ? 0 : -ENOMEM;
	}
	if (o->state_dir && mkdir(o->state_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "sbxd: %s: %s\n", o->state_dir, strerror(errno));
		return -errno;
	}
	rc = auth_default_key_path(o->state_dir, path, sizeof(path));
	if (rc == 0)
		rc = auth_load_or_generate(path, key, &err);
	if (rc < 0) {
		fprintf(stderr, "sbxd: API key: %s\n", err ? err : strerror(-rc));
		free(err);
		return rc;
	}
	fprintf(stderr, "sbxd: API key stored in %s\n", path);
	return 0;
}

/* Writes "PORT\n" (or the Unix socket's path) to a temp file and renames it
 * over `path`, so a reader never sees a partial line. */
static int write_ready(const char *path, const char *unix_path, unsigned port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	if (unix_path)
		fprintf(f, "%s\n", unix_path);
	else
		fprintf(f, "%u\n", port);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		fclose(f);
		unlink(tmp);
		return -EIO;
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return -errno;
	}
	return 0;
}

/* Tells a service manager (systemd Type=notify) about state: one datagram
 * to $NOTIFY_SOCKET ('@' = abstract namespace), as sd_notify(3) does.
 * Nothing happens when it is unset. */
static void notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = path ? strlen(path) : 0;
	int fd;

	if (len < 2 || len >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		fprintf(stderr, "sbxd: warn: cannot notify %s: %s\n", path, strerror(errno));
	close(fd);
}

static int serve(struct opts *o, char *key, sigset_t *sigs)
{
	struct sbxd_config cfg = {
		.host = o->host, .port = (uint16_t)o->port, .listen_fd = -1,
		.allow_remote = o->allow_remote, .api_key = key, .state_dir = o->state_dir,
		.templates_file = o->templates, .max_sandboxes = o->max_sandboxes,
		.max_timeout = o->max_timeout, .default_timeout = o->default_timeout,
		.faults = o->faults, .log_level = o->level, .unix_path = o->unix_path,
		.threads = o->threads, .max_connections = o->max_conns,
		.max_per_ip = o->max_per_ip, .request_timeout = o->request_timeout,
		.idle_timeout = o->idle_timeout, .runtime = o->runtime,
		.sandbox_uid = o->sandbox_uid,
	};
	char *err = NULL;
	struct sbxd *s = sbxd_start(&cfg, &err);
	int sig, rc;

	if (!s) {
		fprintf(stderr, "sbxd: %s\n", err ? err : "cannot start");
		free(err);
		return 1;
	}
	if (o->ready_file && (rc = write_ready(o->ready_file, o->unix_path, sbxd_port(s))) < 0) {
		fprintf(stderr, "sbxd: %s: %s\n", o->ready_file, strerror(-rc));
		sbxd_stop(s);
		return 1;
	}
	notify("READY=1");
	while (sigwait(sigs, &sig) == 0 && sig == SIGHUP) {
		char *nk = NULL;

		if (o->key_file && keyfile_read(o->key_file, &nk) < 0)
			fprintf(stderr, "sbxd: %s: cannot re-read key; keeping the old one\n",
				o->key_file);
		rc = sbxd_reload(s, nk);
		if (rc == 0 && o->level >= SBXD_LOG_INFO)
			fprintf(stderr, "sbxd: info: reloaded\n");
		free(nk);
	}
	if (o->level >= SBXD_LOG_INFO)
		fprintf(stderr, "sbxd: info: stopping\n");
	notify("STOPPING=1");
	sbxd_stop(s);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .host = "127.0.0.1", .port = 49982, .level = SBXD_LOG_INFO,
			  .runtime = "auto" };
	sigset_t sigs;
	char *key = NULL;
	int rc;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	/* Block the signals before any thread starts, so every thread
	 * inherits the mask and only sigwait() below receives them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (get_key(&o, &key) < 0)
		return 1;
	rc = serve(&o, key, &sigs);
	explicit_bzero(key, strlen(key));
	free(key);
	return rc;
}
