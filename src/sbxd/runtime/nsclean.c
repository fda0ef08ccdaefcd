/* Detaching the FUSE mounts a launcher's fresh mount namespace copied from
 * the host.
 *
 * Why: a sandbox is launched from a private copy of sbxd's mount namespace
 * (bwrap.c), and a sandbox's bwrap monitor stays in that copy for the
 * sandbox's life.  A FUSE filesystem mounted on the host before the launch
 * is in the copy too, and there it keeps the filesystem's connection open
 * after the host unmounts it: the FUSE daemon never sees the end of its
 * mount.  For sbxfs, whose private sbxd launches the sandboxes, that is
 * its own mount, and `fusermount3 -u` would leave sbxfs running.
 *
 * Runs in a child between fork and exec of a multi-threaded process: only
 * system calls, no allocation, no stdio. */
#include "runtime/nsclean.h"

#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* Copies mountinfo's octal-escaped field (up to a space) into out. */
static bool unescape(const char *s, const char *end, char *out, size_t len)
{
	size_t n = 0;

	while (s < end && *s != ' ') {
		char c = *s++;

		if (c == '\\' && end - s >= 3) {
			c = (char)(((s[0] - '0') << 6) | ((s[1] - '0') << 3) | (s[2] - '0'));
			s += 3;
		}
		if (n + 1 >= len)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return n > 0;
}

/* One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - TYPE ...". */
static void consider(const char *line, const char *end)
{
	char mp[4096];
	const char *p = line, *sep;

	for (int field = 0; field < 4; field++) {
		p = memchr(p, ' ', (size_t)(end - p));
		if (!p++)
			return;
	}
	sep = memmem(p, (size_t)(end - p), " - ", 3);
	if (!sep || end - sep < 7 || memcmp(sep + 3, "fuse", 4) != 0)
		return;
	if (unescape(p, end, mp, sizeof(mp)))
		umount2(mp, MNT_DETACH);
}

void nsclean_detach_fuse(void)
{
	char buf[16384];
	size_t have = 0;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		char *line = buf, *nl;

		if (n <= 0)
			break;
		have += (size_t)n;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			consider(line, nl);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf))
			have = 0;       /* a line longer than buf: skip it */
	}
	close(fd);
}
