/* The Connect stream decoder and the process events (proc.h).
 * Pure: no I/O, untrusted bytes in, bounded. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "common/b64.h"
#include "proc.h"

void envdc_event_clear(struct envdc_event *ev)
{
	free(ev->data);
	memset(ev, 0, sizeof(*ev));
}

static int parse_data(json_t *d, struct envdc_event *ev)
{
	static const char *const keys[] = { "stdout", "stderr", "pty" };
	static const enum envdc_ev_kind kinds[] = { ENVDC_EV_STDOUT, ENVDC_EV_STDERR,
						    ENVDC_EV_PTY };
	json_t *v = NULL;

	if (!json_is_object(d) || json_object_size(d) != 1)
		return -EPROTO;
	for (size_t i = 0; i < 3 && !v; i++)
		if ((v = json_object_get(d, keys[i])))
			ev->kind = kinds[i];
	if (!json_is_string(v))
		return -EPROTO;
	return b64_decode_new(json_string_value(v), json_string_length(v), &ev->data,
				&ev->len) == -ENOMEM ? -ENOMEM : ev->data ? 0 : -EPROTO;
}

/* exitCode is a number (sint32); exited a bool; status and error strings. */
static int parse_end(json_t *d, struct envdc_event *ev)
{
	json_t *code = json_object_get(d, "exitCode");
	json_t *exited = json_object_get(d, "exited");
	json_t *status = json_object_get(d, "status");
	json_t *error = json_object_get(d, "error");

	if (!json_is_object(d) || (code && !json_is_integer(code) && !json_is_null(code)) ||
	    (exited && !json_is_boolean(exited) && !json_is_null(exited)) ||
	    (status && !json_is_string(status) && !json_is_null(status)) ||
	    (error && !json_is_string(error) && !json_is_null(error)))
		return -EPROTO;
	if (json_is_integer(code)) {
		json_int_t c = json_integer_value(code);

		if (c < INT32_MIN || c > INT32_MAX)
			return -EPROTO;
		ev->exit_code = (int)c;
	}
	ev->kind = ENVDC_EV_END;
	ev->exited = json_is_true(exited);
	snprintf(ev->status, sizeof(ev->status), "%s",
		 json_is_string(status) ? json_string_value(status) : "");
	snprintf(ev->error, sizeof(ev->error), "%s",
		 json_is_string(error) ? json_string_value(error) : "");
	return 0;
}

static int parse_oneof(const char *key, json_t *d, struct envdc_event *ev)
{
	if (!strcmp(key, "start")) {
		json_t *pid = json_object_get(d, "pid");

		if (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
		    json_integer_value(pid) > UINT32_MAX)
			return -EPROTO;
		ev->kind = ENVDC_EV_START;
		ev->pid = (unsigned)json_integer_value(pid);
		return 0;
	}
	if (!strcmp(key, "data"))
		return parse_data(d, ev);
	if (!strcmp(key, "end"))
		return parse_end(d, ev);
	if (!strcmp(key, "keepalive") && (json_is_object(d) || json_is_null(d))) {
		ev->kind = ENVDC_EV_KEEPALIVE;
		return 0;
	}
	return -EPROTO;
}

int envdc_event_parse(const char *json, size_t len, struct envdc_event *ev)
{
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *event = json_object_get(root, "event");
	int r = -EPROTO;

	memset(ev, 0, sizeof(*ev));
	/* A oneof is exactly one key. */
	if (json_is_object(event) && json_object_size(event) == 1) {
		const char *key = json_object_iter_key(json_object_iter(event));

		r = parse_oneof(key, json_object_iter_value(json_object_iter(event)), ev);
	}
	json_decref(root);
	if (r < 0)
		envdc_event_clear(ev);
	return r;
}

void envdc_dec_init(struct envdc_dec *d, envdc_event_fn fn, void *ctx)
{
	memset(d, 0, sizeof(*d));
	d->on_event = fn;
	d->ctx = ctx;
}

void envdc_dec_clear(struct envdc_dec *d)
{
	free(d->msg);
	d->msg = NULL;
}

/* The end-stream envelope: {} or {"error":{"code","message"},"metadata"}. */
static int end_stream(struct envdc_dec *d)
{
	json_t *root = json_loadb(d->msg, d->have, 0, NULL);
	json_t *error = json_object_get(root, "error");
	const char *code = json_string_value(json_object_get(error, "code"));
	const char *msg = json_string_value(json_object_get(error, "message"));
	int r = 0;

	if (!json_is_object(root) || (error && !json_is_object(error))) {
		r = -EPROTO;
	} else if (error) {
		snprintf(d->end_code, sizeof(d->end_code), "%s", code ? code : "unknown");
		snprintf(d->end_msg, sizeof(d->end_msg), "%s", msg ? msg : "");
		d->end_err = envdc_errno_status(200, d->end_code, d->end_msg);
		if (d->end_err == 0)
			d->end_err = -EIO;
	}
	d->ended = true;
	json_decref(root);
	return r;
}

/* A whole envelope in d->msg: its message or the end. */
static int envelope_done(struct envdc_dec *d)
{
	unsigned char flags = d->hdr[0];
	struct envdc_event ev;
	int r;

	if (flags & 0x01)
		return -EPROTO;         /* compressed: never asked for */
	if (flags & 0x02)
		return end_stream(d);
	if ((r = envdc_event_parse(d->msg ? d->msg : "", d->have, &ev)) < 0)
		return r;
	r = d->on_event ? d->on_event(&ev, d->ctx) : 0;
	envdc_event_clear(&ev);
	return r;
}

static int header_done(struct envdc_dec *d)
{
	uint32_t n = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 |
		     (uint32_t)d->hdr[3] << 8 | d->hdr[4];

	if (d->hdr[0] & ~0x03u)
		return -EPROTO;
	if (n > ENVDC_ENVELOPE_MAX)
		return -EFBIG;
	d->need = n;
	d->have = 0;
	if ((d->msg = malloc((size_t)n + 1)) == NULL)
		return -ENOMEM;
	return 0;
}

int envdc_dec_feed(struct envdc_dec *d, const char *data, size_t len)
{
	int r = 0;

	while (len > 0 && r == 0) {
		if (d->ended) {
			r = -EPROTO;        /* nothing follows the end */
		} else if (d->hlen < 5) {
			d->hdr[d->hlen++] = (unsigned char)*data++;
			len--;
			if (d->hlen == 5)
				r = header_done(d);
		} else {
			size_t k = d->need - d->have < len ? d->need - d->have : len;

			memcpy(d->msg + d->have, data, k);
			d->have += k;
			data += k;
			len -= k;
		}
		if (r == 0 && d->hlen == 5 && d->have == d->need) {
			d->msg[d->have] = '\0';
			r = envelope_done(d);
			envdc_dec_clear(d);
			d->hlen = 0;
		}
	}
	if (r < 0)
		d->ended = true;
	return r;
}
