/* sbxfs's log: one process-wide sink and level. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "common/scrub.h"

enum log_sink { SINK_STDERR, SINK_SYSLOG, SINK_FILE };

/* lock guards sink and file: a line is written whole under it, and
 * log_open/log_close never swap the sink under a writer.  level is read
 * without the lock (atomically) so log_debug() costs one load when off. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_sink sink = SINK_STDERR;
static FILE *file;
static int level = LOG_LVL_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* Must be called with lock held. */
static void close_sink_locked(void)
{
	if (sink == SINK_FILE && file)
		fclose(file);
	else if (sink == SINK_SYSLOG)
		closelog();
	file = NULL;
	sink = SINK_STDERR;
}

int log_open(const char *target, enum log_level lvl)
{
	FILE *f = NULL;
	enum log_sink s;

	if (!target || !*target || lvl < LOG_LVL_ERROR || lvl > LOG_LVL_DEBUG)
		return -EINVAL;
	if (strcmp(target, "stderr") == 0) {
		s = SINK_STDERR;
	} else if (strcmp(target, "syslog") == 0) {
		s = SINK_SYSLOG;
	} else {
		int fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

		if (fd < 0)
			return -errno;
		f = fdopen(fd, "a");
		if (!f) {
			int e = errno;

			close(fd);
			return -e;
		}
		setvbuf(f, NULL, _IOLBF, 0);
		s = SINK_FILE;
	}
	pthread_mutex_lock(&lock);
	close_sink_locked();
	sink = s;
	file = f;
	if (s == SINK_SYSLOG)
		openlog("sbxfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	__atomic_store_n(&level, (int)lvl, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lock);
	return 0;
}

void log_close(void)
{
	pthread_mutex_lock(&lock);
	close_sink_locked();
	pthread_mutex_unlock(&lock);
}

int log_parse_level(const char *s, enum log_level *out)
{
	if (!s)
		return -EINVAL;
	for (int i = 0; i <= LOG_LVL_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool log_enabled(enum log_level lvl)
{
	return (int)lvl <= __atomic_load_n(&level, __ATOMIC_RELAXED);
}

static int syslog_priority(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_ERROR: return LOG_ERR;
	case LOG_LVL_WARN: return LOG_WARNING;
	case LOG_LVL_INFO: return LOG_INFO;
	default: return LOG_DEBUG;
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char raw[2048], msg[1024], stamp[40];
	char *big = NULL;
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	if (lvl < LOG_LVL_ERROR || lvl > LOG_LVL_DEBUG || !log_enabled(lvl))
		return;
	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* The whole message is scrubbed before it is cut, so a secret near
	 * the end cannot leave half of itself behind. */
	if ((size_t)n >= sizeof(raw)) {
		va_start(ap, fmt);
		if (vasprintf(&big, fmt, ap) < 0)
			big = NULL;
		va_end(ap);
	}
	/* One event, one line, no secret: control characters (a server
	 * message, a name) could forge lines. */
	scrub_text(msg, sizeof(msg), big ? big : raw, big ? strlen(big) : strlen(raw));
	free(big);

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = (int)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - (size_t)n, ".%03ldZ", (long)tv.tv_usec / 1000);

	pthread_mutex_lock(&lock);
	switch (sink) {
	case SINK_SYSLOG:
		syslog(syslog_priority(lvl), "%s: %s", level_names[lvl], msg);
		break;
	case SINK_FILE:
		fprintf(file, "%s sbxfs[%ld] %s: %s\n", stamp, (long)getpid(),
			level_names[lvl], msg);
		break;
	default:
		fprintf(stderr, "%s sbxfs[%ld] %s: %s\n", stamp, (long)getpid(),
			level_names[lvl], msg);
		break;
	}
	pthread_mutex_unlock(&lock);
}
