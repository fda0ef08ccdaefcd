/* Non-blocking descriptor I/O; see fdio.h. */
#include "envd/fdio.h"

#include "common/clock.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

ssize_t fd_read_chunk(int fd, char *buf, size_t max)
{
	ssize_t n;

	do
		n = read(fd, buf, max);
	while (n < 0 && errno == EINTR);
	return n < 0 && errno == EAGAIN ? -1 : n < 0 ? 0 : n;
}

int fd_write_all(int fd, const char *data, size_t len)
{
	int64_t until = clock_mono_ns() + 5000000000LL;

	while (len) {
		ssize_t n = write(fd, data, len);

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int64_t left = (until - clock_mono_ns()) / 1000000;
		struct pollfd pf = { fd, POLLOUT, 0 };

		if (left <= 0)
			return -ETIMEDOUT;
		poll(&pf, 1, (int)left);
	}
	return 0;
}

