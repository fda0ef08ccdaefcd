/* API key handling; see auth.h. */
#include "api/auth.h"

#include "common/keyfile.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct auth {
	/* Guards `key`: SIGHUP may replace it while requests check it. */
	pthread_mutex_t lock;
	char *key;
};

struct auth *auth_new(const char *key)
{
	struct auth *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	pthread_mutex_init(&a->lock, NULL);
	if (auth_set(a, key) < 0) {
		auth_free(a);
		return NULL;
	}
	return a;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	if (a->key)
		explicit_bzero(a->key, strlen(a->key));
	free(a->key);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int auth_set(struct auth *a, const char *key)
{
	if (!key || !*key)
		return -EINVAL;
	char *copy = strdup(key);
	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&a->lock);
	char *old = a->key;
	a->key = copy;
	pthread_mutex_unlock(&a->lock);
	if (old)
		explicit_bzero(old, strlen(old));
	free(old);
	return 0;
}

bool auth_check(struct auth *a, const char *presented)
{
	if (!presented)
		return false;
	pthread_mutex_lock(&a->lock);
	bool ok = util_secure_equal(a->key, presented);
	pthread_mutex_unlock(&a->lock);
	return ok;
}

int auth_default_key_path(const char *state_dir, char *out, size_t outlen)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (state_dir)
		n = snprintf(out, outlen, "%s/api-key", state_dir);
	else if (xdg && *xdg == '/')
		n = snprintf(out, outlen, "%s/sbxd/api-key", xdg);
	else
		n = snprintf(out, outlen, "/tmp/sbxd-%u/api-key", (unsigned)getuid());
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* Creates the key's directory 0700 if missing and insists an existing one
 * is ours and private: /tmp is shared, so someone else's directory there
 * must not receive our key. */
static int ensure_private_dir(const char *path, char **err)
{
	char dir[4096];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		goto fail;
	if (lstat(dir, &st) < 0)
		goto fail;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077)) {
		if (asprintf(err, "%s must be a directory owned by you with mode 0700", dir) < 0)
			*err = NULL;
		return -EPERM;
	}
	return 0;
fail:;
	int e = errno;
	if (asprintf(err, "%s: %s", dir, strerror(e)) < 0)
		*err = NULL;
	return -e;
}

int auth_load_or_generate(const char *path, char **key, char **err)
{
	char fresh[65], tmp[4200];
	int rc, fd;

	*err = NULL;
	rc = ensure_private_dir(path, err);
	if (rc < 0)
		return rc;
	if (keyfile_is_private(path) && keyfile_read(path, key) == 0)
		return 0;
	rc = util_random_hex(fresh, 32);
	if (rc < 0)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto fail;
	if (dprintf(fd, "%s\n", fresh) < 0 || fsync(fd) < 0) {
		close(fd);
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) < 0)
		goto fail;
	*key = strdup(fresh);
	explicit_bzero(fresh, sizeof(fresh));
	return *key ? 0 : -ENOMEM;
fail:;
	int e = errno;
	unlink(tmp);
	if (asprintf(err, "%s: %s", path, strerror(e)) < 0)
		*err = NULL;
	return -e;
}
