/* Levelled logging for the server: to the embedder's callback when one is
 * configured, else to stderr.  Never to stdout (sbxfs may own it). */
#ifndef SBXD_LOG_H
#define SBXD_LOG_H

#include "sbxd.h"

struct slog {
	sbxd_log_fn fn;
	void *ctx;
	enum sbxd_log_level level;
};

/* True when a message at `level` would be emitted; lets callers skip
 * formatting work. */
static inline int slog_enabled(const struct slog *l, enum sbxd_log_level level)
{
	return l && level <= l->level;
}

void slog_msg(const struct slog *l, enum sbxd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define slog_error(l, ...) slog_msg((l), SBXD_LOG_ERROR, __VA_ARGS__)
#define slog_warn(l, ...)  slog_msg((l), SBXD_LOG_WARN, __VA_ARGS__)
#define slog_info(l, ...)  slog_msg((l), SBXD_LOG_INFO, __VA_ARGS__)
#define slog_debug(l, ...) slog_msg((l), SBXD_LOG_DEBUG, __VA_ARGS__)

#endif
