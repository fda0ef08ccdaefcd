/* libFuzzer target: envd's parsers of untrusted bytes.  The first byte
 * picks one (byte % 4): the Connect envelope of a stream request, the
 * multipart parser (fed in pieces of the second byte's size), path
 * expansion, and Basic auth with base64. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

/* What the multipart parser gave: every data byte joined, and the parts'
 * starts and ends with where they fell in that data.  Fed whole and fed
 * in pieces, the same body must give the same. */
struct bytes {
	char *p;
	size_t len, cap;
};

struct events {
	struct bytes data, marks;
};

static void add(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		FUZZ_CHECK(b->p != NULL);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void mark(struct events *e, char kind)
{
	add(&e->marks, &kind, 1);
	add(&e->marks, &e->data.len, sizeof(e->data.len));
}

static int on_begin(void *ctx, const char *name, const char *fn, int has)
{
	FUZZ_CHECK(name && fn && (has || !*fn));
	mark(ctx, 'B');
	add(&((struct events *)ctx)->marks, name, strlen(name) + 1);
	add(&((struct events *)ctx)->marks, fn, strlen(fn) + 1);
	return 0;
}

static int on_data(void *ctx, const char *p, size_t n)
{
	FUZZ_CHECK(p && n);
	add(&((struct events *)ctx)->data, p, n);
	return 0;
}

static int on_end(void *ctx)
{
	mark(ctx, 'E');
	return 0;
}

/* Feeds d in pieces of step bytes: the parser's result, e its events. */
static int feed(const uint8_t *d, size_t n, size_t step, struct events *e)
{
	struct mp_callbacks cb = { on_begin, on_data, on_end, e };
	struct mp *m = mp_new("fuzzB", &cb);
	int rc = 0;

	FUZZ_CHECK(m != NULL);
	for (size_t i = 0; i < n && rc == 0; i += step)
		rc = mp_feed(m, (const char *)d + i, n - i < step ? n - i : step);
	FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
	if (rc == 0)
		rc = mp_finish(m);
	mp_free(m);
	FUZZ_CHECK(e->data.len <= n);
	return rc;
}

static bool same(const struct bytes *a, const struct bytes *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static void multipart(const uint8_t *d, size_t n)
{
	size_t step = n ? (size_t)d[0] % 64 + 1 : 1;
	struct events whole = { 0 }, pieces = { 0 };
	int rw, rp;

	if (n == 0)
		return;
	d++, n--;
	rw = feed(d, n, n ? n : 1, &whole);
	rp = feed(d, n, step, &pieces);
	FUZZ_CHECK(rw == rp);
	/* A body refused midway may have given less where it stopped. */
	if (rw == 0)
		FUZZ_CHECK(same(&whole.data, &pieces.data) && same(&whole.marks, &pieces.marks));
	free(whole.data.p);
	free(whole.marks.p);
	free(pieces.data.p);
	free(pieces.marks.p);
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
