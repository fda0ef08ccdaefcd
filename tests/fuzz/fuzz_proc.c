/* libFuzzer target: the client's decoder of envd's process streams
 * (envd/proc.h).  The first byte sets the size of the pieces the rest is
 * fed in; the whole input is also parsed as one event and, when it is
 * base64, decoded and encoded back.  Invariants: the decoder never takes
 * bytes after its end or an error, every event it hands over is well
 * formed, a stream fed whole or in pieces gives the same events. */
#include "common/b64.h"
#include <errno.h>

#include "envd/proc.h"
#include "fuzz.h"

struct tally {
	size_t events, bytes;
	unsigned long long sum;
};

static int on_event(const struct envdc_event *ev, void *ctx)
{
	struct tally *t = ctx;

	FUZZ_CHECK(ev->kind >= ENVDC_EV_START && ev->kind <= ENVDC_EV_KEEPALIVE);
	FUZZ_CHECK(ev->kind != ENVDC_EV_START || ev->pid > 0);
	FUZZ_CHECK((ev->data != NULL) == (ev->kind == ENVDC_EV_STDOUT ||
					  ev->kind == ENVDC_EV_STDERR ||
					  ev->kind == ENVDC_EV_PTY));
	FUZZ_CHECK(memchr(ev->status, '\0', sizeof(ev->status)));
	t->events++;
	t->bytes += ev->len;
	for (size_t i = 0; i < ev->len; i++)
		t->sum += (unsigned char)ev->data[i] * (i + 1);
	return 0;
}

/* Feeds d in pieces of step bytes: the first error, or 0. */
static int feed(const uint8_t *d, size_t n, size_t step, struct tally *t, bool *ended)
{
	struct envdc_dec dec;
	int r = 0;

	envdc_dec_init(&dec, on_event, t);
	for (size_t i = 0; i < n && r == 0; i += step)
		r = envdc_dec_feed(&dec, (const char *)d + i, n - i < step ? n - i : step);
	FUZZ_CHECK(r == 0 || r == -EPROTO || r == -EFBIG || r == -ENOMEM);
	/* Nothing is taken after an error or the end. */
	if (r < 0 || dec.ended)
		FUZZ_CHECK(envdc_dec_feed(&dec, "x", 1) == -EPROTO);
	FUZZ_CHECK(!dec.ended || r < 0 || dec.end_err <= 0);
	*ended = dec.ended;
	envdc_dec_clear(&dec);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally whole = { 0 }, cut = { 0 };
	struct envdc_event ev;
	bool e1, e2;
	char *out;
	size_t len;

	if (size == 0)
		return 0;
	int r1 = feed(data + 1, size - 1, size - 1 ? size - 1 : 1, &whole, &e1);
	int r2 = feed(data + 1, size - 1, (size_t)data[0] % 16 + 1, &cut, &e2);

	FUZZ_CHECK(r1 == r2 && e1 == e2);
	FUZZ_CHECK(whole.events == cut.events && whole.bytes == cut.bytes &&
		   whole.sum == cut.sum);
	if (envdc_event_parse((const char *)data, size, &ev) == 0)
		envdc_event_clear(&ev);
	if (b64_decode_new((const char *)data, size, &out, &len) == 0) {
		char *enc = b64_encode(out, len);
		char *back;
		size_t blen;

		FUZZ_CHECK(enc && b64_decode_new(enc, strlen(enc), &back, &blen) == 0);
		FUZZ_CHECK(blen == len && memcmp(back, out, len) == 0);
		free(back);
		free(enc);
		free(out);
	}
	return 0;
}
