/* The private sbxd that serves a mount given no backend: a 0700 directory
 * with a Unix socket made before the daemon forks, a random key, and the
 * server started on that socket once the daemon runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "embedded.h"
#include "http/http.h"
#include "sbxd.h"
#include "util/log.h"

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
static int listen_private(struct embedded *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (asprintf(&e->sock_dir, "%s/sbxfs-XXXXXX", runtime_base()) < 0) {
		e->sock_dir = NULL;
		return -ENOMEM;
	}
	if (mkdtemp(e->sock_dir) == NULL) {     /* mode 0700 */
		int err = -errno;

		free(e->sock_dir);
		e->sock_dir = NULL;
		return err;
	}
	if (asprintf(&e->sock_path, "%s/sbxd.sock", e->sock_dir) < 0) {
		e->sock_path = NULL;
		return -ENOMEM;
	}
	if (strlen(e->sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, e->sock_path, strlen(e->sock_path));
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
static void remove_private(struct embedded *e)
{
	if (e->sock_path)
		unlink(e->sock_path);
	if (e->sock_dir)
		rmdir(e->sock_dir);
	free(e->sock_path);
	free(e->sock_dir);
	e->sock_path = e->sock_dir = NULL;
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

int embedded_setup(struct embedded *e, struct backend *b)
{
	e->listen_fd = listen_private(e);
	if (e->listen_fd < 0) {
		fprintf(stderr, "sbxfs: cannot make a Unix socket in %s for the local sbxd: %s\n",
			e->sock_dir ? e->sock_dir : runtime_base(), strerror(-e->listen_fd));
		return -1;
	}
	b->key = random_key();
	/* The URL names no port: every request to it goes over the socket. */
	b->url = strdup("http://localhost");
	if (asprintf(&e->shown_url, "unix:%s", e->sock_path) < 0)
		e->shown_url = NULL;
	if (b->key == NULL || b->url == NULL || e->shown_url == NULL ||
	    http_set_unix_socket(b->url, e->sock_path) < 0) {
		fprintf(stderr, "sbxfs: cannot set up the local sbxd\n");
		return -1;
	}
	fprintf(stderr, "sbxfs: no backend configured; serving sandboxes from a private "
		"local sbxd on %s\n", e->shown_url);
	return 0;
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

int embedded_start(struct embedded *e, const struct backend *b, int timeout,
		   const char *runtime)
{
	struct sbxd_config cfg = {
		.listen_fd = e->listen_fd,
		.api_key = b->key,
		.default_timeout = (unsigned)timeout,
		/* Real sandboxes wherever bubblewrap runs, as the hosted
		 * services give; -o runtime=record keeps records only. */
		.runtime = runtime ? runtime : "auto",
		.log = sbxd_log,
		.log_level = log_enabled(LOG_LVL_DEBUG) ? SBXD_LOG_DEBUG : SBXD_LOG_WARN,
	};
	char *err = NULL;

	e->sbxd = sbxd_start(&cfg, &err);
	/* sbxd owns the socket now, or closed it if its threads failed. */
	e->listen_fd = -1;
	if (e->sbxd == NULL) {
		log_error("cannot start the local sbxd: %s", err ? err : "unknown error");
		free(err);
		return -1;
	}
	return 0;
}

const char *embedded_url(const struct embedded *e)
{
	return e->shown_url;
}

void embedded_stop(struct embedded *e)
{
	if (e->sbxd)
		sbxd_stop(e->sbxd);
	e->sbxd = NULL;
	if (e->listen_fd >= 0)
		close(e->listen_fd);
	e->listen_fd = -1;
	remove_private(e);
	http_set_unix_socket(NULL, NULL);
	free(e->shown_url);
	e->shown_url = NULL;
}
