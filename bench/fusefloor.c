/* fusefloor: what the kernel's FUSE read path costs on this machine, with
 * nothing behind it.  A file system of one file, /data, of SIZE MiB kept in
 * memory and served by a read op that only copies, through the same
 * high-level libfuse API and init settings for reads as sbxfs (page cache,
 * kernel read-ahead, multi-threaded loop).
 *
 *   fusefloor MOUNTPOINT SIZE_MIB [-f] [libfuse options]
 *
 * bench/fsbench times cat of MOUNTPOINT/data beside cat of a file in fs/ and
 * the curl GET of it: the part of cat's time that is FUSE's own, whatever
 * the network path does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fuse.h>

static char *data;
static size_t data_len;

static int ff_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else if (strcmp(path, "/data") == 0) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)data_len;
	} else {
		return -ENOENT;
	}
	return 0;
}

static int ff_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off, (void)fi, (void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "data", NULL, 0, 0);
	return 0;
}

static int ff_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/data") != 0)
		return -ENOENT;
	return (fi->flags & O_ACCMODE) == O_RDONLY ? 0 : -EACCES;
}

static int ff_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path, (void)fi;
	if (off < 0 || (size_t)off >= data_len)
		return 0;
	size = data_len - (size_t)off < size ? data_len - (size_t)off : size;
	memcpy(buf, data + off, size);
	return (int)size;
}

static void *ff_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	return NULL;
}

static const struct fuse_operations ff_ops = {
	.init = ff_init,
	.getattr = ff_getattr,
	.readdir = ff_readdir,
	.open = ff_open,
	.read = ff_read,
};

int main(int argc, char **argv)
{
	char *end;
	unsigned long mib;
	int rc;

	if (argc < 3 || (mib = strtoul(argv[2], &end, 10)) == 0 || *end || mib > 4096) {
		fprintf(stderr, "usage: fusefloor MOUNTPOINT SIZE_MIB [-f] [libfuse options]\n");
		return 2;
	}
	data_len = (size_t)mib << 20;
	if ((data = malloc(data_len)) == NULL) {
		perror("fusefloor");
		return 1;
	}
	/* Bytes that are not all alike, written once so the pages are in. */
	for (size_t i = 0; i < data_len; i++)
		data[i] = (char)(i * 2654435761u >> 13);
	/* libfuse sees: fusefloor MOUNTPOINT [options] */
	memmove(&argv[2], &argv[3], (size_t)(argc - 3 + 1) * sizeof(*argv));
	rc = fuse_main(argc - 1, argv, &ff_ops, NULL);
	free(data);
	return rc;
}
