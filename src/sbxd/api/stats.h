/* Exact per-route request counters for GET /sbxd/stats. */
#ifndef SBXD_STATS_H
#define SBXD_STATS_H

#include <jansson.h>

struct stats;

/* `keys` lists the route keys to report even at zero; borrowed, must
 * outlive the stats. */
struct stats *stats_new(const char *const *keys, size_t nkeys);
void stats_free(struct stats *s);

/* Counts one request under `key` (copied if new). */
void stats_count(struct stats *s, const char *key);

/* Counts a request to a sandbox's envd under "envd METHOD /path" (the
 * path without its query; unknown paths as "envd METHOD other"), outside
 * the control-plane total "requests". */
void stats_count_envd(struct stats *s, const char *method, const char *path);

/* Connection events, for the "connections" object of stats_json. */
enum stats_conn_event {
	STATS_CONN_OPENED,      /* accepted: open +1, accepted +1 */
	STATS_CONN_CLOSED,      /* open -1 */
	STATS_CONN_REFUSED,     /* answered 503 for being over a limit */
	STATS_CONN_TIMED_OUT,   /* closed: its request was not in on time */
};
void stats_conn(struct stats *s, enum stats_conn_event ev);

/* Zeroes the counters; `open` is a gauge and stays. */
void stats_reset(struct stats *s);

/* {"requests": N, "routes": {key: n, ...}, "connections": {"open": n,
 * "accepted": n, "refused": n, "timed_out": n}} (caller owns). */
json_t *stats_json(struct stats *s);

#endif
