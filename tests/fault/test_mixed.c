/* The mixed workload of bench/mixed (16 threads: mkdir, rmdir, state and
 * timeout writes, ls -l, cat info) under each fault mix: every result is
 * success or a documented errno, no operation lasts past retry_deadline
 * plus a second (mkdir, rmdir and ls -l of the root: three times that, as
 * the kernel queues them on the root's lock behind each other's
 * requests), and what the mount acknowledged is what the REST API holds
 * afterwards.  One more test runs every mix for 10 s and compares their
 * throughput with the no-fault run's. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mnt.h"

#define RETRY_DEADLINE_S 6

static void setup(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 1,
		.extra = "connect_timeout=1,request_timeout=3,retry_deadline=6",
		.log_level = "error", .allow_log = true });
}

static void teardown(void)
{
	mnt_stop();
}

/* The sandbox named name, per the REST API: its state, or NULL if none.
 * A name may belong to two sandboxes when an unacknowledged create also
 * made one; then any of them being in `want` counts. */
static bool rest_has(const char *name, const char *want_state)
{
	char path[256];
	json_t *arr = NULL, *it;
	size_t i;
	bool found = false;
	long st;

	snprintf(path, sizeof(path),
		 "/v2/sandboxes?state=running,paused&limit=100&metadata=sbxfs.name%%3D%s", name);
	st = rest("GET", path, NULL, &arr);
	cr_assert_eq(st, 200, "list of %s: HTTP %ld", name, st);
	json_array_foreach(arr, i, it) {
		const char *state = json_string_value(json_object_get(it, "state"));

		if (!want_state || strcmp(want_state, "?") == 0 ||
		    (state && strcmp(state, want_state) == 0))
			found = true;
	}
	json_decref(arr);
	return found;
}

static void check_expectations(const char *file)
{
	char line[256], name[128], state[32];
	int present = 0, absent = 0;
	FILE *f = fopen(file, "r");

	cr_assert_not_null(f, "no expectations from the workload");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "present %127s %31s", name, state) == 2) {
			cr_expect(rest_has(name, state), "%s: acknowledged %s, REST disagrees", name,
				  state);
			present++;
		} else if (sscanf(line, "absent %127s", name) == 1) {
			cr_expect_not(rest_has(name, NULL), "%s: acknowledged killed, still there",
				      name);
			absent++;
		}
	}
	fclose(f);
	cr_expect_gt(present + absent, 0, "the workload acknowledged nothing");
}

/* What bench/mixed printed: the figures compared across mixes. */
struct figures {
	double ops_s, reads_s, read_p99_ms;
};

static double figure(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	cr_assert_not_null(p, "no %s in: %s", key, line);
	return strtod(p + strlen(key), NULL);
}

/* Runs the workload for secs under fault (NULL: none), then checks; its
 * figures in *fig unless NULL. */
static void run_mix(const char *tag, const char *fault, int secs, struct figures *fig)
{
	static bool shared_made;    /* per test: Criterion runs each in a process */
	char cmd[1024], expect[160], out[160], name[32], *line;

	/* the sandboxes every thread reads, made before the faults */
	for (int i = 0; i < 16 && !shared_made; i++) {
		snprintf(name, sizeof(name), "mxbase-%02d", i);
		free(rest_create("base", name, NULL));
	}
	shared_made = true;
	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	if (fault)
		cr_assert_eq(rest("POST", "/sbxd/faults", fault, NULL), 200, "fault %s", fault);
	snprintf(expect, sizeof(expect), "%s/expect-%s", M.tmp, tag);
	snprintf(out, sizeof(out), "%s/figures-%s", M.tmp, tag);
	snprintf(cmd, sizeof(cmd), "\"%s\" -t 16 -s %d -b %d -p %s -o \"%s\" \"$MNT\" >\"%s\"",
		 getenv("MIXED_EXE"), secs, (RETRY_DEADLINE_S + 1) * 1000, tag, expect, out);
	cr_expect_eq(sh("%s", cmd), 0, "workload under %s: a bad errno or an operation past "
		     "retry_deadline + 1 s (see stderr)", tag);
	cr_assert_eq(rest("DELETE", "/sbxd/faults", NULL, NULL), 204);
	check_expectations(expect);
	line = slurp(out, NULL);
	cr_assert_not_null(line, "no figures from the workload under %s", tag);
	fprintf(stderr, "mixed %s: %s", tag, line);
	if (fig)
		*fig = (struct figures){ figure(line, " ops_s="), figure(line, " reads_s="),
					 figure(line, " read_p99_ms=") };
	free(line);
}

TestSuite(mixed, .init = setup, .fini = teardown, .timeout = 300);

Test(mixed, no_fault)
{
	run_mix("none", NULL, 4, NULL);
}

Test(mixed, eight_percent_503)
{
	run_mix("s503", "{\"status\": 503, \"share\": 0.08}", 4, NULL);
}

Test(mixed, five_percent_dropped)
{
	run_mix("drop", "{\"body\": \"drop\", \"share\": 0.05}", 4, NULL);
}

/* Listings only: sbxd answers a faulted request without running its
 * handler, so a truncated 200 to a DELETE would be a success no server
 * gives (the kill acknowledged, the sandbox still there). */
Test(mixed, ten_percent_truncated)
{
	run_mix("trunc", "{\"body\": \"truncated\", \"share\": 0.10, "
		"\"path_prefix\": \"/v2/sandboxes\"}", 4, NULL);
}

Test(mixed, ten_percent_slow_past_the_request_timeout)
{
	run_mix("slow", "{\"latency_ms\": 4000, \"share\": 0.10}", 6, NULL);
}

/* Every mix for 10 s on one mount, against the no-fault run: under 503s,
 * dropped connections and truncated listings the whole workload keeps at
 * least half its throughput; under slow requests an operation pays for its
 * own slow request only, so reads of known sandboxes keep half their rate
 * and a p99 under 50 ms. */
Test(mixed, throughput_under_each_mix_against_none)
{
	static const struct {
		const char *tag, *fault;
	} mixes[] = {
		{ "tp503", "{\"status\": 503, \"share\": 0.08}" },
		{ "tpdrop", "{\"body\": \"drop\", \"share\": 0.05}" },
		{ "tptrunc", "{\"body\": \"truncated\", \"share\": 0.10, "
			     "\"path_prefix\": \"/v2/sandboxes\"}" },
	};
	struct figures none, f;

	run_mix("tpnone", NULL, 10, &none);
	cr_assert_gt(none.ops_s, 0.0);
	cr_assert_gt(none.reads_s, 0.0);
	for (size_t i = 0; i < sizeof(mixes) / sizeof(mixes[0]); i++) {
		run_mix(mixes[i].tag, mixes[i].fault, 10, &f);
		cr_expect_geq(f.ops_s, 0.5 * none.ops_s, "%s: %.0f ops/s, no fault %.0f",
			      mixes[i].tag, f.ops_s, none.ops_s);
	}
	run_mix("tpslow", "{\"latency_ms\": 4000, \"share\": 0.10}", 10, &f);
	cr_expect_geq(f.reads_s, 0.5 * none.reads_s, "slow: %.0f reads/s, no fault %.0f",
		      f.reads_s, none.reads_s);
	cr_expect_lt(f.read_p99_ms, 50.0, "slow: read p99 %.1f ms", f.read_p99_ms);
}
