/* libFuzzer target: sbxd's handling of untrusted requests short of the
 * network: routing of a path, the query parser and page tokens, the
 * request-body validators, the fault configuration and the key
 * comparison.  The first byte picks the parser (byte % 6) and its variant
 * (byte / 6); the rest is its input. */
#include <errno.h>
#include <jansson.h>

#include "api/faults.h"
#include "fuzz.h"
#include "api/query.h"
#include "api/reqbody.h"
#include "api/router.h"
#include "base/util.h"

#define MAX_TIMEOUT 86400
#define DEF_TIMEOUT 300

static void route(const char *path)
{
	struct route_match m;
	enum route_id id = router_match(path, &m);

	FUZZ_CHECK(id == m.id && id >= RT_NONE && id < RT_COUNT);
	if (id != RT_NONE)
		FUZZ_CHECK(router_template(id) != NULL);
	if (m.id_ok) {
		FUZZ_CHECK(m.sandbox_id[0] != '\0');
		FUZZ_CHECK(strchr(m.sandbox_id, '/') == NULL);
		FUZZ_CHECK(strcmp(m.sandbox_id, ".") != 0 && strcmp(m.sandbox_id, "..") != 0);
	}
	(void)router_is_internal(path);
}

/* Splits "state\nmetadata\nlimit\ntoken\norder\nstarted_after\ntemplate"
 * into list params; an empty field is absent. */
static void list_query(char *s, int v2)
{
	const char *f[7] = { 0 };
	char *tok = s;
	struct list_params p;
	struct list_query q;
	char err[256];
	uint64_t cursor;
	char token[64];

	for (int i = 0; i < 7 && tok; i++) {
		char *nl = strchr(tok, '\n');

		if (nl)
			*nl = '\0';
		f[i] = *tok ? tok : NULL;
		tok = nl ? nl + 1 : NULL;
	}
	p = (struct list_params){ f[0], f[1], f[2], f[3], f[4], f[5], f[6] };
	memset(&q, 0, sizeof(q));
	if (q_parse_list(&p, v2, &q, err, sizeof(err)) == 0) {
		FUZZ_CHECK(q.filter.limit <= 100);
		q_list_free(&q);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
	if (f[3] && q_token_decode(f[3], &cursor) == 0) {
		uint64_t again;

		q_token_encode(cursor, token, sizeof(token));
		FUZZ_CHECK(q_token_decode(token, &again) == 0 && again == cursor);
	}
}

static void bodies(unsigned which, const char *body, size_t len)
{
	char err[256] = "";
	unsigned t = 0;
	int r;

	switch (which % 6) {
	case 0: {
		struct create_req cr;

		memset(&cr, 0, sizeof(cr));
		r = rb_parse_create(body, len, DEF_TIMEOUT, MAX_TIMEOUT, &cr, err, sizeof(err));
		if (r == 0) {
			FUZZ_CHECK(cr.template_name && cr.template_name[0]);
			FUZZ_CHECK(cr.timeout_s <= MAX_TIMEOUT);
			FUZZ_CHECK(!cr.metadata || json_is_object(cr.metadata));
			rb_create_free(&cr);
		}
		break;
	}
	case 1:
		r = rb_parse_timeout(body, len, MAX_TIMEOUT, &t, err, sizeof(err));
		break;
	case 2:
		r = rb_parse_connect(body, len, DEF_TIMEOUT, MAX_TIMEOUT, &t, err, sizeof(err));
		break;
	case 3:
		r = rb_parse_refresh(body, len, 60, &t, err, sizeof(err));
		if (r == 0)
			FUZZ_CHECK(t <= 3600);
		break;
	case 4:
		r = rb_parse_pause(body, len, err, sizeof(err));
		break;
	default:
		r = rb_parse_resume(body, len, DEF_TIMEOUT, MAX_TIMEOUT, &t, err, sizeof(err));
		break;
	}
	FUZZ_CHECK(r == 0 || (r == -EINVAL && err[0] != '\0'));
	if (r == 0 && which % 6 != 3)
		FUZZ_CHECK(t <= MAX_TIMEOUT);
}

static void fault_config(const char *body, size_t len)
{
	static struct faults *f;
	struct fault_action act;
	char err[256] = "";
	int r;

	if (!f)
		f = faults_new();
	r = faults_set(f, body, len, err, sizeof(err));
	FUZZ_CHECK(r == 0 || (r == -EINVAL && err[0] != '\0'));
	json_decref(faults_json(f));
	if (faults_decide(f, "/v2/sandboxes", &act))
		FUZZ_CHECK(act.latency_ms >= 0 && act.latency_ms <= 600000);
	faults_clear(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	s = fuzz_cstr(data + 1, size - 1);
	switch (data[0] % 6) {
	case 0:
		route(s);
		break;
	case 1:
		list_query(s, (data[0] / 6) & 1);
		break;
	case 2:
		bodies(data[0] / 6, (const char *)data + 1, size - 1);
		break;
	case 3:
		fault_config((const char *)data + 1, size - 1);
		break;
	case 4: {
		uint64_t c;

		(void)q_token_decode(s, &c);
		break;
	}
	default: {
		/* "key\npresented": the constant-time compare is a compare. */
		char *nl = strchr(s, '\n');

		if (nl) {
			*nl = '\0';
			FUZZ_CHECK(util_secure_equal(s, nl + 1) == (strcmp(s, nl + 1) == 0));
		}
		break;
	}
	}
	free(s);
	return 0;
}
