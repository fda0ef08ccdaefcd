/* A sandbox's metrics and log entries as the control plane sends them
 * (GET /sandboxes/{id}/metrics, GET /v2/sandboxes/{id}/logs), decoded
 * defensively, and rendered as the text of MOUNT/<sbx>/metrics and
 * MOUNT/<sbx>/logs.
 *
 * The server is untrusted: shapes are checked, counts and lengths capped,
 * a reply is taken whole or refused with -EPROTO.  Pure functions: no
 * I/O, thread-safe. */
#ifndef SBXFS_MODEL_SBXDATA_H
#define SBXFS_MODEL_SBXDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most entries a metrics reply or a page of logs may hold. */
#define SBX_METRICS_MAX 100000
#define SBX_LOGS_PAGE_MAX 4096
/* Longest message and field value kept of a log entry, in bytes (longer
 * ones are cut, marked with "..."); most fields per entry. */
#define SBX_LOG_TEXT_MAX 16384
#define SBX_LOG_FIELDS_MAX 64

/* One sample: the newest entry of a reply (present false for `[]`). */
struct sbx_metrics {
	bool present;
	long long cpu_count;
	double cpu_used_pct;
	long long mem_used, mem_total, disk_used, disk_total;  /* bytes */
	int64_t timestamp_ms;
};

/* A metrics reply, a JSON array of SandboxMetric: 0 and the entry with
 * the newest timestamp in *out (present false when the array is empty),
 * -EPROTO for any other shape, -ENOMEM.  Each entry needs timestamp (RFC
 * 3339) or timestampUnix, and numeric cpuCount, cpuUsedPct, memUsed,
 * memTotal, diskUsed, diskTotal (counts non-negative); Novita's
 * memUsedMiB/memTotalMiB stand in for memUsed/memTotal. */
int sbx_metrics_parse(const char *body, size_t len, struct sbx_metrics *out);

/* The text of MOUNT/<sbx>/metrics: cpu_count, cpu_used_pct (two
 * decimals), mem_used, mem_total, disk_used, disk_total (bytes) and
 * timestamp (RFC 3339 UTC, seconds) as key=value lines in that order;
 * every value empty when !m->present.  malloc'd (caller frees), *len its
 * length; NULL on ENOMEM. */
char *sbx_metrics_render(const struct sbx_metrics *m, size_t *len);

/* One log entry rendered as a line of MOUNT/<sbx>/logs:
 * `TIME LEVEL MESSAGE key=value...` and "\n", where TIME is RFC 3339 UTC
 * to the millisecond, LEVEL upper case, MESSAGE escaped as info's values
 * (a newline as \n, a backslash as \\, other control bytes \xHH), then the
 * fields sorted by key, each value escaped likewise and in double quotes
 * (with \" inside) when it is empty or holds a space, '"' or '='. */
struct sbx_log_line {
	int64_t ts_ms;
	size_t len;
	char *text;              /* malloc'd, ends in "\n" */
};

/* A v2 logs reply, {"logs":[SandboxLogEntry...]} (timestamp, level,
 * message, fields of scalars; at most SBX_LOGS_PAGE_MAX): 0 with the
 * entries rendered in the reply's order (*out NULL when none; caller
 * sbx_log_lines_free()s it), -EPROTO for any other shape, -ENOMEM. */
int sbx_logs_parse(const char *body, size_t len, struct sbx_log_line **out, size_t *n);
/* Frees n lines and the array; NULL is a no-op. */
void sbx_log_lines_free(struct sbx_log_line *v, size_t n);

#endif
