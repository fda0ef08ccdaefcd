/* Levelled logging; see log.h. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void slog_msg(const struct slog *l, enum sbxd_log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!slog_enabled(l, level))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (l->fn) {
		l->fn(l->ctx, level, buf);
		return;
	}
	/* One fprintf per line: stdio locks the stream, so lines from
	 * concurrent request threads do not interleave. */
	fprintf(stderr, "sbxd: %s: %s\n", level_names[level], buf);
}
