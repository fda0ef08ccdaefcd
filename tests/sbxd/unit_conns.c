/* The connection limits of conns.c, with made-up peers. */
#include "http/conns.h"
#include "api/stats.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

static struct sockaddr_in v4(const char *ip)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };

	cr_assert_eq(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	return sa;
}

static json_int_t conn_stat(struct stats *st, const char *name)
{
	json_t *j = stats_json(st);
	json_int_t v = json_integer_value(json_object_get(json_object_get(j, "connections"),
							  name));

	json_decref(j);
	return v;
}

Test(conns, per_ip_limit_spares_loopback)
{
	struct stats *st = stats_new(NULL, 0);
	struct conns_config cfg = { .max_connections = 100, .per_ip = 2, .request_timeout_s = 10 };
	struct conns *c = conns_new(&cfg, st);
	struct sockaddr_in a = v4("10.0.0.1"), b = v4("10.0.0.2"), lo = v4("127.0.0.1");
	void *ka[3], *kb, *kl[5];

	for (int i = 0; i < 3; i++)
		conns_opened(c, -1, (struct sockaddr *)&a, &ka[i]);
	conns_opened(c, -1, (struct sockaddr *)&b, &kb);
	for (int i = 0; i < 5; i++)
		conns_opened(c, -1, (struct sockaddr *)&lo, &kl[i]);
	cr_expect(conns_request_begun(c, ka[0]));
	cr_expect(conns_request_begun(c, ka[1]));
	cr_expect_not(conns_request_begun(c, ka[2]), "a third connection from one peer");
	cr_expect(conns_request_begun(c, kb));
	for (int i = 0; i < 5; i++)
		cr_expect(conns_request_begun(c, kl[i]), "loopback peers are not limited");
	cr_expect_eq(conn_stat(st, "refused"), 1);
	cr_expect_eq(conn_stat(st, "open"), 9);
	/* Closing frees the peer's places. */
	for (int i = 0; i < 3; i++)
		conns_closed(c, &ka[i]);
	void *again;
	conns_opened(c, -1, (struct sockaddr *)&a, &again);
	cr_expect(conns_request_begun(c, again));
	conns_closed(c, &again);
	conns_closed(c, &kb);
	for (int i = 0; i < 5; i++)
		conns_closed(c, &kl[i]);
	cr_expect_eq(conn_stat(st, "open"), 0);
	conns_free(c);
	stats_free(st);
}

Test(conns, connection_limit)
{
	struct stats *st = stats_new(NULL, 0);
	struct conns_config cfg = { .max_connections = 3, .request_timeout_s = 10 };
	struct conns *c = conns_new(&cfg, st);
	void *k[4];

	for (int i = 0; i < 4; i++)
		conns_opened(c, -1, NULL, &k[i]);
	for (int i = 0; i < 3; i++)
		cr_expect(conns_request_begun(c, k[i]));
	cr_expect_not(conns_request_begun(c, k[3]));
	for (int i = 0; i < 4; i++)
		conns_closed(c, &k[i]);
	conns_free(c);
	stats_free(st);
}
