/* sbxfs's log: one process-wide sink (stderr, syslog or a file) and level.
 * Every line goes through scrub_text(): no secret of scrub.h's set reaches
 * a sink, whatever the caller passes. */
#ifndef SBXFS_LOG_H
#define SBXFS_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* target: "stderr", "syslog" or a file path (appended to, created 0640).
 * 0 or -errno.  Before log_open() and after log_close() lines go to stderr
 * (default level info; log_close() keeps the level).  stderr and file
 * lines read "2026-11-28T14:14:27.123Z sbxfs[PID] LEVEL: message"; secrets
 * become "***", control characters and invalid UTF-8 '?', and a message is
 * cut at ~1000 bytes (ending "...").
 * Thread-safe: a mutex guards the sink, a line is written whole. */
int log_open(const char *target, enum log_level level);
void log_close(void);
/* "error", "warn", "info", "debug" -> level; -EINVAL otherwise. */
int log_parse_level(const char *s, enum log_level *out);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_LVL_DEBUG)) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
