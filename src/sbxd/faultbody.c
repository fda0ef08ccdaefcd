/* Fault response bodies; see faultbody.h. */
#include "faultbody.h"

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

static int render_oversize(bool list, struct fault_reply *out)
{
	/* Valid JSON, just too big: a client must cap what it reads. */
	if (list) {
		json_t *arr = json_array();
		char *one;
		size_t one_len;

		json_array_append_new(arr, fake_item(0));
		one = json_dumps(arr, JSON_COMPACT);
		json_decref(arr);
		if (!one)
			return -ENOMEM;
		one_len = strlen(one) - 2;      /* the item without [ ] */
		size_t n = OVERSIZE_BYTES / (one_len + 1) + 1;
		out->data = malloc(n * (one_len + 1) + 2);
		if (!out->data) {
			free(one);
			return -ENOMEM;
		}
		char *w = out->data;
		*w++ = '[';
		for (size_t i = 0; i < n; i++) {
			if (i)
				*w++ = ',';
			memcpy(w, one + 1, one_len);
			w += one_len;
		}
		*w++ = ']';
		out->len = (size_t)(w - out->data);
		free(one);
		return 0;
	}
	static const char head[] = "{\"sandboxID\":\"fault000000000000000\","
		"\"templateID\":\"base\",\"clientID\":\"00000000\","
		"\"envdVersion\":\"0.2.0\",\"metadata\":{\"pad\":\"";
	static const char tail[] = "\"}}";
	out->len = OVERSIZE_BYTES;
	out->data = malloc(out->len);
	if (!out->data)
		return -ENOMEM;
	memcpy(out->data, head, sizeof(head) - 1);
	memset(out->data + sizeof(head) - 1, 'x', out->len - (sizeof(head) - 1) - (sizeof(tail) - 1));
	memcpy(out->data + out->len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	return 0;
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
