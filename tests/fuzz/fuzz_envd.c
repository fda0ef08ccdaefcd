/* libFuzzer target: envd's parsers of untrusted bytes.  The first byte
 * picks one (byte % 4): the Connect envelope of a stream request, the
 * multipart parser (fed in pieces of the second byte's size), path
 * expansion, and Basic auth with base64. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>

#include "envd/connect.h"
#include "envd/multipart.h"
#include "envd/path.h"
#include "envd/route.h"
#include "fuzz.h"

static void envelope(const uint8_t *d, size_t n)
{
	json_t *o = NULL;
	char err[256];
	int rc = cx_request_message(d, n, &o, err, sizeof(err));

	FUZZ_CHECK((rc == 0) == (o != NULL));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE);
	if (o) {
		size_t len;
		unsigned char *f = cx_frame(0, o, &len);
		json_t *back = NULL;

		/* What we frame parses back to the same message. */
		FUZZ_CHECK(f && cx_request_message(f, len, &back, err, sizeof(err)) == 0);
		FUZZ_CHECK(json_equal(o, back));
		json_decref(back);
		free(f);
	}
	json_decref(o);
}

static size_t total;

static int on_begin(void *ctx, const char *name, const char *fn, int has)
{
	(void)ctx;
	FUZZ_CHECK(name && fn && (has || !*fn));
	return 0;
}

static int on_data(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	FUZZ_CHECK(p && n);
	total += n;
	return 0;
}

static int on_end(void *ctx)
{
	(void)ctx;
	return 0;
}

static void multipart(const uint8_t *d, size_t n)
{
	struct mp_callbacks cb = { on_begin, on_data, on_end, NULL };
	size_t step = n ? (size_t)d[0] % 64 + 1 : 1;
	struct mp *m = mp_new("fuzzB", &cb);
	int rc = 0;

	total = 0;
	for (size_t i = 1; i < n && rc == 0; i += step)
		rc = mp_feed(m, (const char *)d + i, n - i < step ? n - i : step);
	FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
	FUZZ_CHECK(total <= n);
	(void)mp_finish(m);
	mp_free(m);
}

static void path(const uint8_t *d, size_t n)
{
	char out[PATH_MAX];
	int rc = ep_expand((const char *)d, n, "/home/user", out, sizeof(out));

	if (rc == 0) {
		FUZZ_CHECK(out[0] == '/');
		FUZZ_CHECK(!strstr(out, "//") && !strstr(out, "/./") && !strstr(out, "/../"));
		FUZZ_CHECK(strlen(out) < 2 || out[strlen(out) - 1] != '/');
	}
}

static void basic(const uint8_t *d, size_t n)
{
	char *s = fuzz_cstr(d, n), user[64];

	if (envd_user_from(s, NULL, user, sizeof(user)) == 0)
		FUZZ_CHECK(strlen(user) < sizeof(user) && !strchr(user, ':'));
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % 4) {
	case 0: envelope(data + 1, size - 1); break;
	case 1: multipart(data + 1, size - 1); break;
	case 2: path(data + 1, size - 1); break;
	default: basic(data + 1, size - 1); break;
	}
	return 0;
}
