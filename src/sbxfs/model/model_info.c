/* The `info` file of a sandbox: key=value lines made from the parsed
 * fields, the way the Python SDK names them (model.h has the format).
 * Apart from model.c because it needs nothing of the JSON. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

static void put_escaped(FILE *f, const char *s, bool is_key)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n')
			fputs("\\n", f);
		else if (c == '\\')
			fputs("\\\\", f);
		else if (c < 0x20 || c == 0x7f || (is_key && c == '='))
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

static void put_line(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%s=", key);
	put_escaped(f, value, false);
	fputc('\n', f);
}

static void put_num(FILE *f, const char *key, long v)
{
	if (v)
		fprintf(f, "%s=%ld\n", key, v);
	else
		fprintf(f, "%s=\n", key);
}

char *sbx_render_info(const struct sbx *s, size_t *len)
{
	char t[SBX_TIME_LEN];
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if (!s)
		return NULL;
	f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	put_line(f, "sandbox_id", s->id);
	put_line(f, "template_id", s->template_id);
	put_line(f, "alias", s->alias);
	put_line(f, "client_id", s->client_id);
	put_line(f, "state", sbx_state_name(s->state));
	put_line(f, "started_at", s->started_at ? sbx_format_time(s->started_at, t) : "");
	put_line(f, "end_at", s->end_at ? sbx_format_time(s->end_at, t) : "");
	put_num(f, "cpu_count", s->cpu_count);
	put_num(f, "memory_mb", s->memory_mb);
	put_num(f, "disk_size_mb", s->disk_size_mb);
	put_line(f, "envd_version", s->envd_version);
	for (size_t i = 0; i < s->n_meta; i++) {
		fputs("metadata.", f);
		put_escaped(f, s->meta[i].key, true);
		fputc('=', f);
		put_escaped(f, s->meta[i].value, false);
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (len)
		*len = size;
	return buf;
}
