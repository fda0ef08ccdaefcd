/* Routing, fault configuration, template files and the small helpers. */
#include "http/faultbody.h"
#include "api/faults.h"
#include "api/router.h"
#include "registry/templates.h"
#include "common/rfc3339.h"
#include "base/util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test(router, routes)
{
	struct route_match m;

	cr_expect_eq(router_match("/health", &m), RT_HEALTH);
	cr_expect_eq(router_match("/sandboxes", &m), RT_SANDBOXES);
	cr_expect_eq(router_match("/v2/sandboxes", &m), RT_V2_SANDBOXES);
	cr_expect_eq(router_match("/sandboxes/abc123", &m), RT_SANDBOX);
	cr_expect_str_eq(m.sandbox_id, "abc123");
	cr_expect(m.id_ok);
	cr_expect_eq(router_match("/sandboxes/abc/pause", &m), RT_SANDBOX_PAUSE);
	cr_expect_eq(router_match("/sandboxes/abc/connect", &m), RT_SANDBOX_CONNECT);
	cr_expect_eq(router_match("/v2/sandboxes/abc/connect", &m), RT_V2_SANDBOX_CONNECT);
	cr_expect_str_eq(m.sandbox_id, "abc");
	cr_expect_eq(router_match("/v2/sandboxes/abc/pause", &m), RT_NONE);
	cr_expect_eq(router_match("/v2/sandboxes/abc", &m), RT_NONE);
	cr_expect_eq(router_match("/sandboxes/", &m), RT_NONE);
	cr_expect_eq(router_match("/sandboxes//pause", &m), RT_NONE);
	cr_expect_eq(router_match("/sandboxes/a/b", &m), RT_NONE);
	cr_expect_eq(router_match("/sandboxes/abc/explode", &m), RT_NONE);
	cr_expect_eq(router_match("/templates", &m), RT_TEMPLATES);
	cr_expect_eq(router_match("/sbxd/stats", &m), RT_SBXD_STATS);
	cr_expect_eq(router_match("/nope", &m), RT_NONE);
	cr_expect_str_eq(router_template(RT_SANDBOX_TIMEOUT), "/sandboxes/{id}/timeout");
	cr_expect(router_is_internal("/sbxd/faults"));
	cr_expect_not(router_is_internal("/sandboxes"));
}

Test(router, odd_ids_are_flagged)
{
	static const char *const odd[] = {
		"/sandboxes/..", "/sandboxes/.", "/sandboxes/a.b", "/sandboxes/a%2Fb",
		"/sandboxes/a b", "/sandboxes/%00/pause",
		"/sandboxes/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct route_match m;

	for (size_t i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
		cr_expect_neq(router_match(odd[i], &m), RT_NONE, "%s", odd[i]);
		cr_expect_not(m.id_ok, "%s", odd[i]);
	}
}

Test(faults, config_validation)
{
	struct faults *f = faults_new();
	struct fault_action act;
	char err[256];
	static const char *const bad[] = {
		"{\"status\":404}", "{\"status\":\"500\"}", "{\"body\":\"weird\"}",
		"{\"share\":1.5}", "{\"count\":-1}", "{\"latency_ms\":-3}",
		"{\"path_prefix\":\"v2\"}", "{\"colour\":\"red\"}", "[]", "{",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_expect_eq(faults_set(f, bad[i], strlen(bad[i]), err, sizeof(err)), -EINVAL,
			     "%s", bad[i]);
	cr_expect_not(faults_decide(f, "/health", &act));

	const char *ok = "{\"status\":503,\"retry_after\":2,\"count\":2,\"path_prefix\":\"/v2/\"}";
	cr_assert_eq(faults_set(f, ok, strlen(ok), err, sizeof(err)), 0, "%s", err);
	cr_expect_not(faults_decide(f, "/sandboxes", &act));
	cr_assert(faults_decide(f, "/v2/sandboxes", &act));
	cr_expect_eq(act.status, 503);
	cr_expect_eq(act.retry_after, 2);
	cr_expect(faults_decide(f, "/v2/sandboxes", &act));
	cr_expect_not(faults_decide(f, "/v2/sandboxes", &act), "count should run out");

	const char *never = "{\"status\":500,\"share\":0}";
	cr_assert_eq(faults_set(f, never, strlen(never), err, sizeof(err)), 0);
	for (int i = 0; i < 100; i++)
		cr_expect_not(faults_decide(f, "/health", &act));
	const char *half = "{\"status\":500,\"share\":0.5}";
	int hits = 0;
	cr_assert_eq(faults_set(f, half, strlen(half), err, sizeof(err)), 0);
	for (int i = 0; i < 1000; i++)
		hits += faults_decide(f, "/health", &act);
	cr_expect(hits > 350 && hits < 650, "share 0.5 hit %d/1000", hits);
	faults_clear(f);
	cr_expect_not(faults_decide(f, "/health", &act));
	faults_free(f);
}

Test(templates, file_and_aliases)
{
	char path[] = "/tmp/sbxd-tpl-XXXXXX";
	int fd = mkstemp(path);
	struct tpl_store *st = tpl_store_new();
	struct tpl_info ti;
	char *err = NULL;

	cr_assert_geq(fd, 0);
	dprintf(fd, "[{\"templateID\":\"py\",\"aliases\":[\"python\"],\"cpuCount\":4,"
		"\"memoryMB\":1024,\"diskSizeMB\":2048}]");
	close(fd);
	cr_assert_eq(tpl_resolve(st, "base", &ti), 0);
	cr_expect_eq(tpl_resolve(st, "python", &ti), -ENOENT);
	cr_assert_eq(tpl_store_load(st, path, &err), 0, "%s", err);
	cr_assert_eq(tpl_resolve(st, "python", &ti), 0);
	cr_expect_str_eq(ti.id, "py");
	cr_expect_str_eq(ti.alias, "python");
	cr_expect_eq(ti.cpu_count, 4);
	cr_expect_eq(ti.memory_mb, 1024);
	cr_assert_eq(tpl_resolve(st, "py", &ti), 0);
	cr_expect_str_eq(ti.alias, "python");
	json_t *list = tpl_list_json(st);
	cr_expect_eq(json_array_size(list), 2);
	json_decref(list);

	/* A broken file keeps the previous set. */
	fd = open(path, O_WRONLY | O_TRUNC);
	dprintf(fd, "[{\"templateID\":\"x\",\"memoryMB\":1}]");
	close(fd);
	cr_expect_lt(tpl_store_load(st, path, &err), 0);
	cr_expect_not_null(err);
	free(err);
	cr_expect_eq(tpl_resolve(st, "python", &ti), 0);
	unlink(path);
	tpl_store_free(st);
}

Test(util, helpers)
{
	char buf[64];
	int64_t ms;

	rfc3339_format_ms(1700000000123LL, buf);
	cr_expect_str_eq(buf, "2023-11-14T22:13:20.123Z");
	cr_assert_eq(rfc3339_parse(buf, &ms), 0);
	cr_expect_eq(ms, 1700000000123LL);
	cr_assert_eq(rfc3339_parse("2023-11-14T23:13:20+01:00", &ms), 0);
	cr_expect_eq(ms, 1700000000000LL);
	cr_expect_lt(rfc3339_parse("2023-11-14", &ms), 0);
	cr_expect(util_secure_equal("abc", "abc"));
	cr_expect_not(util_secure_equal("abc", "abd"));
	cr_expect_not(util_secure_equal("abc", "abcd"));
	cr_expect_not(util_secure_equal("", "a"));
	cr_expect(util_valid_id("abc-DEF_123"));
	cr_expect_not(util_valid_id(""));
	cr_expect_not(util_valid_id(".."));
	snprintf(buf, sizeof(buf), "a%%20b+c%%3D");
	cr_assert_eq(util_url_decode(buf), 0);
	cr_expect_str_eq(buf, "a b c=");
	snprintf(buf, sizeof(buf), "%%2");
	cr_expect_lt(util_url_decode(buf), 0);
	snprintf(buf, sizeof(buf), "%%00");
	cr_expect_lt(util_url_decode(buf), 0);
	cr_assert_eq(util_random_alnum(buf, 20), 0);
	cr_expect_eq(strlen(buf), 20);
}

/* The oversize body is made as it is sent: read in any chunk size it is
 * the same document, of the size promised. */
Test(faultbody, oversize_stream_reads_alike_in_any_chunks)
{
	struct fault_action act = { .body = FAULT_BODY_OVERSIZE, .retry_after = -1 };

	for (int list = 0; list < 2; list++) {
		struct fault_reply fr;

		cr_assert_eq(fault_render(&act, list, &fr), 0);
		cr_assert_not_null(fr.stream);
		size_t len = fault_stream_len(fr.stream), got = 0, n;
		char *a = malloc(len + 1), *b = malloc(len + 1);

		cr_expect_geq(len, 5u << 20);
		cr_assert_eq(fault_stream_read(fr.stream, 0, a, len + 100), len);
		a[len] = '\0';
		for (size_t chunk = 1; (n = fault_stream_read(fr.stream, got, b + got, chunk)) > 0;
		     chunk = chunk * 7 % 65521 + 1)
			got += n;
		cr_expect_eq(got, len);
		cr_expect_eq(memcmp(a, b, len), 0);
		json_t *j = json_loads(a, 0, NULL);
		cr_expect(list ? json_is_array(j) : json_is_object(j), "%.80s", a);
		json_decref(j);
		free(a);
		free(b);
		fault_stream_free(fr.stream);
	}
}
