/* The Connect stream decoder and the process events of envd/proc.h,
 * without a network: envelopes cut anywhere, bounds, the end of stream. */
#include "common/b64.h"
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envd/proc.h"

struct seen {
	int n;
	enum envdc_ev_kind kinds[16];
	char out[256];
	size_t out_len;
	unsigned pid;
	int code;
	char status[64];
};

static int on_ev(const struct envdc_event *ev, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 16)
		s->kinds[s->n] = ev->kind;
	s->n++;
	if (ev->kind == ENVDC_EV_START)
		s->pid = ev->pid;
	if (ev->kind == ENVDC_EV_STDOUT && s->out_len + ev->len <= sizeof(s->out)) {
		memcpy(s->out + s->out_len, ev->data, ev->len);
		s->out_len += ev->len;
	}
	if (ev->kind == ENVDC_EV_END) {
		s->code = ev->exit_code;
		snprintf(s->status, sizeof(s->status), "%s", ev->status);
	}
	return 0;
}

/* Appends an envelope of flags and json to buf at *at. */
static void env(char *buf, size_t *at, int flags, const char *json)
{
	size_t n = strlen(json);

	buf[(*at)++] = (char)flags;
	buf[(*at)++] = (char)(n >> 24);
	buf[(*at)++] = (char)(n >> 16);
	buf[(*at)++] = (char)(n >> 8);
	buf[(*at)++] = (char)n;
	memcpy(buf + *at, json, n);
	*at += n;
}

static size_t sample(char *buf)
{
	size_t at = 0;

	env(buf, &at, 0, "{\"event\":{\"start\":{\"pid\":1234}}}");
	env(buf, &at, 0, "{\"event\":{\"data\":{\"stdout\":\"aGkK\"}}}");
	env(buf, &at, 0, "{\"event\":{\"keepalive\":{}}}");
	env(buf, &at, 0, "{\"event\":{\"data\":{\"stdout\":\"AP8A\"}}}");
	env(buf, &at, 0, "{\"event\":{\"end\":{\"exitCode\":3,\"exited\":true,"
		      "\"status\":\"exit status 3\"}}}");
	env(buf, &at, 2, "{}");
	return at;
}

Test(envelope, a_stream_cut_at_every_size_decodes_the_same)
{
	char buf[1024];
	size_t len = sample(buf);

	for (size_t step = 1; step <= len; step++) {
		struct seen s = { 0 };
		struct envdc_dec d;

		envdc_dec_init(&d, on_ev, &s);
		for (size_t i = 0; i < len; i += step)
			cr_assert_eq(envdc_dec_feed(&d, buf + i, len - i < step ? len - i : step), 0);
		cr_assert(d.ended);
		cr_assert_eq(d.end_err, 0);
		cr_assert_eq(s.n, 5);
		cr_assert_eq(s.pid, 1234);
		cr_assert_eq(s.kinds[2], ENVDC_EV_KEEPALIVE);
		cr_assert_eq(s.out_len, 6);
		cr_assert_eq(memcmp(s.out, "hi\n\0\xff\0", 6), 0);
		cr_assert_eq(s.code, 3);
		cr_assert_str_eq(s.status, "exit status 3");
		envdc_dec_clear(&d);
	}
}

Test(envelope, an_error_in_the_end_maps_to_errno)
{
	char buf[256];
	size_t at = 0;
	struct envdc_dec d;

	env(buf, &at, 2, "{\"error\":{\"code\":\"not_found\",\"message\":\"process not found\"}}");
	envdc_dec_init(&d, on_ev, NULL);
	cr_assert_eq(envdc_dec_feed(&d, buf, at), 0);
	cr_assert(d.ended);
	cr_assert_eq(d.end_err, -ENOENT);
	cr_assert_str_eq(d.end_msg, "process not found");
}

Test(envelope, bad_envelopes_are_refused)
{
	struct envdc_dec d;
	char buf[64];
	size_t at = 0;
	const char big[5] = { 0, 0x7f, 0, 0, 0 };
	const char comp[5] = { 1, 0, 0, 0, 0 };

	envdc_dec_init(&d, on_ev, NULL);
	cr_assert_eq(envdc_dec_feed(&d, big, 5), -EFBIG);
	cr_assert_eq(envdc_dec_feed(&d, "x", 1), -EPROTO);  /* nothing after an error */
	envdc_dec_clear(&d);
	envdc_dec_init(&d, on_ev, NULL);
	cr_assert_eq(envdc_dec_feed(&d, comp, 5), -EPROTO);
	envdc_dec_init(&d, on_ev, NULL);
	env(buf, &at, 0, "{\"event\":{\"data\":{\"stdout\":\"a\",\"stderr\":\"b\"}}}");
	cr_assert_eq(envdc_dec_feed(&d, buf, at), -EPROTO);
	envdc_dec_clear(&d);
	at = 0;
	envdc_dec_init(&d, on_ev, NULL);
	env(buf, &at, 2, "{}");
	env(buf, &at, 0, "{}");
	cr_assert_eq(envdc_dec_feed(&d, buf, at), -EPROTO);  /* after the end */
	envdc_dec_clear(&d);
}

Test(envelope, events_are_checked)
{
	struct envdc_event ev;
	const char *bad[] = {
		"{\"event\":{}}", "{\"event\":{\"start\":{\"pid\":-1}}}",
		"{\"event\":{\"start\":{}}}", "{\"event\":{\"data\":{\"stdout\":\"@@\"}}}",
		"{\"event\":{\"end\":{\"exitCode\":\"x\"}}}", "[]", "{\"event\":{\"nope\":{}}}",
		"{\"event\":{\"start\":{\"pid\":1},\"end\":{}}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(envdc_event_parse(bad[i], strlen(bad[i]), &ev), -EPROTO, "%s", bad[i]);
	const char *end = "{\"event\":{\"end\":{\"exitCode\":-1,\"status\":"
			  "\"signal: killed\",\"error\":\"signal: killed\"}}}";

	cr_assert_eq(envdc_event_parse(end, strlen(end), &ev), 0);
	cr_assert_eq(ev.kind, ENVDC_EV_END);
	cr_assert_eq(ev.exit_code, -1);
	cr_assert_not(ev.exited);
	envdc_event_clear(&ev);
}

Test(envelope, base64_round_trips_every_byte)
{
	char in[256], *enc, *dec;
	size_t n;

	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	for (size_t len = 0; len < sizeof(in); len += 7) {
		cr_assert_not_null(enc = b64_encode(in, len));
		cr_assert_eq(b64_decode_new(enc, strlen(enc), &dec, &n), 0);
		cr_assert_eq(n, len);
		cr_assert_eq(memcmp(dec, in, len), 0);
		free(enc);
		free(dec);
	}
	cr_assert_eq(b64_decode_new("a", 1, &dec, &n), -EINVAL);
	cr_assert_eq(b64_decode_new("ab!c", 4, &dec, &n), -EINVAL);
}
