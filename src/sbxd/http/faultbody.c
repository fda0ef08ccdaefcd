/* Fault response bodies; see faultbody.h. */
#include "http/faultbody.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OVERSIZE_BYTES (5u << 20)

static json_t *fake_item(unsigned i)
{
	char id[32];

	snprintf(id, sizeof(id), "fault%015u", i);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:{s:s}}",
			 "sandboxID", id, "templateID", "base", "alias", "base",
			 "clientID", "00000000", "startedAt", "2026-01-01T00:00:00.000Z",
			 "endAt", "2026-01-01T00:05:00.000Z", "state", "running",
			 "cpuCount", 2, "memoryMB", 512, "diskSizeMB", 512,
			 "envdVersion", "0.2.0", "metadata", "fault", "injected");
}

static json_t *wrong_item(void)
{
	return json_pack("{s:i, s:i, s:n, s:i, s:b, s:i, s:s, s:s, s:[], s:f, s:s}",
			 "sandboxID", 12345, "templateID", 678, "clientID",
			 "startedAt", 1, "endAt", 1, "state", 42, "cpuCount", "two",
			 "memoryMB", "lots", "diskSizeMB", "envdVersion", 0.2,
			 "metadata", "none");
}

static int dump(json_t *doc, struct fault_reply *out)
{
	if (!doc)
		return -ENOMEM;
	out->data = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!out->data)
		return -ENOMEM;
	out->len = strlen(out->data);
	return 0;
}

size_t fault_stream_len(const struct fault_stream *fs)
{
	size_t body = fs->reps ? fs->reps * fs->unit_len + (fs->reps - 1) * fs->sep_len : 0;

	return fs->head_len + body + fs->tail_len;
}

/* The piece of the stream at pos: a pointer into one of its strings and
 * how many bytes of it follow. */
static const char *stream_at(const struct fault_stream *fs, size_t pos, size_t *avail)
{
	size_t body = fault_stream_len(fs) - fs->head_len - fs->tail_len;

	if (pos < fs->head_len) {
		*avail = fs->head_len - pos;
		return fs->head + pos;
	}
	pos -= fs->head_len;
	if (pos < body) {
		size_t off = pos % (fs->unit_len + fs->sep_len);

		if (off < fs->unit_len) {
			*avail = fs->unit_len - off;
			return fs->unit + off;
		}
		*avail = fs->sep_len - (off - fs->unit_len);
		return fs->sep + (off - fs->unit_len);
	}
	pos -= body;
	*avail = pos < fs->tail_len ? fs->tail_len - pos : 0;
	return fs->tail + (pos < fs->tail_len ? pos : 0);
}

size_t fault_stream_read(const struct fault_stream *fs, size_t pos, char *buf, size_t max)
{
	size_t done = 0, avail;

	while (done < max) {
		const char *p = stream_at(fs, pos + done, &avail);

		if (avail == 0)
			break;
		if (avail > max - done)
			avail = max - done;
		memcpy(buf + done, p, avail);
		done += avail;
	}
	return done;
}

void fault_stream_free(struct fault_stream *fs)
{
	if (!fs)
		return;
	free(fs->head);
	free(fs->unit);
	free(fs->sep);
	free(fs->tail);
	free(fs);
}

/* A stream of the given parts (copied; unit non-empty).  NULL on ENOMEM. */
static struct fault_stream *stream_new(const char *head, const char *unit, size_t unit_len,
				       const char *sep, size_t reps, const char *tail)
{
	struct fault_stream *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->head = strdup(head);
	fs->unit = strndup(unit, unit_len);
	fs->sep = strdup(sep);
	fs->tail = strdup(tail);
	if (!fs->head || !fs->unit || !fs->sep || !fs->tail) {
		fault_stream_free(fs);
		return NULL;
	}
	fs->head_len = strlen(head);
	fs->unit_len = unit_len;
	fs->sep_len = strlen(sep);
	fs->tail_len = strlen(tail);
	fs->reps = reps;
	return fs;
}

static int render_oversize(bool list, struct fault_reply *out)
{
	/* Valid JSON, just too big: a client must cap what it reads.  Made
	 * as it is sent, so many at once cost no 5 MiB each. */
	if (list) {
		json_t *item = fake_item(0);
		char *one = item ? json_dumps(item, JSON_COMPACT) : NULL;

		json_decref(item);
		if (!one)
			return -ENOMEM;
		size_t n = OVERSIZE_BYTES / (strlen(one) + 1) + 1;
		out->stream = stream_new("[", one, strlen(one), ",", n, "]");
		free(one);
		return out->stream ? 0 : -ENOMEM;
	}
	static const char head[] = "{\"sandboxID\":\"fault000000000000000\","
		"\"templateID\":\"base\",\"clientID\":\"00000000\","
		"\"envdVersion\":\"0.2.0\",\"metadata\":{\"pad\":\"";
	static const char tail[] = "\"}}";
	char pad[1024];
	size_t reps = (OVERSIZE_BYTES - (sizeof(head) - 1) - (sizeof(tail) - 1)) / sizeof(pad);
	char start[sizeof(head) + sizeof(pad)];
	size_t rest = OVERSIZE_BYTES - (sizeof(head) - 1) - (sizeof(tail) - 1) - reps * sizeof(pad);

	/* head and the padding's odd remainder, then whole blocks of x. */
	memset(pad, 'x', sizeof(pad));
	snprintf(start, sizeof(start), "%s%.*s", head, (int)rest, pad);
	out->stream = stream_new(start, pad, sizeof(pad), "", reps, tail);
	return out->stream ? 0 : -ENOMEM;
}

/* The same 100 sandboxes on every page, each page naming a next one
 * that was never seen before. */
static int render_endless(bool list, struct fault_reply *out)
{
	static unsigned long pages;   /* atomic: numbers the tokens */
	json_t *doc = json_array();

	if (!list)
		return dump(fake_item(0), out);
	for (unsigned i = 0; doc && i < 100; i++)
		json_array_append_new(doc, fake_item(i));
	out->hdr_name = "X-Next-Token";
	snprintf(out->hdr_value, sizeof(out->hdr_value), "endless%lu",
		 __atomic_add_fetch(&pages, 1, __ATOMIC_RELAXED));
	return dump(doc, out);
}

int fault_render(const struct fault_action *act, bool list, struct fault_reply *out)
{
	static const char html[] = "<html><head><title>502 Bad Gateway</title></head>"
		"<body><center><h1>502 Bad Gateway</h1></center></body></html>\n";
	json_t *doc;
	int rc;

	memset(out, 0, sizeof(*out));
	out->status = act->status ? act->status : 200;
	out->content_type = "application/json";
	switch (act->body) {
	case FAULT_BODY_TRUNCATED:
		if (list) {
			doc = json_array();
			json_array_append_new(doc, fake_item(0));
			json_array_append_new(doc, fake_item(1));
		} else {
			doc = fake_item(0);
		}
		rc = dump(doc, out);
		if (rc == 0)
			out->len /= 2;  /* cut mid-document; Content-Length matches */
		return rc;
	case FAULT_BODY_NONJSON:
		out->content_type = "text/html";
		out->data = strdup(html);
		out->len = sizeof(html) - 1;
		return out->data ? 0 : -ENOMEM;
	case FAULT_BODY_WRONGTYPE:
		if (list) {
			doc = json_array();
			json_array_append_new(doc, wrong_item());
		} else {
			doc = wrong_item();
		}
		return dump(doc, out);
	case FAULT_BODY_OVERSIZE:
		return render_oversize(list, out);
	case FAULT_BODY_ENDLESS:
		return render_endless(list, out);
	default:
		return dump(json_pack("{s:i, s:s}", "code", out->status,
				      "message", "injected fault"), out);
	}
}
