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

void stats_reset(struct stats *s);

/* {"requests": N, "routes": {key: n, ...}} (caller owns). */
json_t *stats_json(struct stats *s);

#endif
