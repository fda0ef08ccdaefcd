/* Streaming multipart/form-data; see multipart.h.
 *
 * The body is scanned for the delimiter "\r\n--BOUNDARY" (the first one
 * may come without its CRLF).  Boundaries cannot hold CR, so after a
 * mismatch the only place a delimiter can restart is a CR: the bytes held
 * back are always a prefix of the delimiter itself, and no copy is kept. */
#include "envd/multipart.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_BOUNDARY 70
#define MAX_HEADERS 8192

enum mp_state { S_PREAMBLE, S_AFTER_DELIM, S_HEADERS, S_BODY, S_DONE };

struct mp {
	struct mp_callbacks cb;
	enum mp_state st;
	char delim[MAX_BOUNDARY + 5];   /* "\r\n--" boundary */
	size_t dlen;
	size_t match;                   /* delimiter bytes matched so far */
	char after[2];                  /* the two bytes after a delimiter */
	size_t nafter;
	char hdr[MAX_HEADERS + 1];
	size_t hlen;
	unsigned parts;
	bool in_part;
};

int mp_boundary(const char *ct, char *out, size_t outlen)
{
	const char *p;
	size_t n;

	if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
		return -EINVAL;
	for (p = ct; (p = strchr(p, ';')); ) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		if (*p == '"') {
			p++;
			n = strcspn(p, "\"");
		} else {
			n = strcspn(p, "; \t");
		}
		if (n == 0 || n > MAX_BOUNDARY || n >= outlen || memchr(p, '\r', n) ||
		    memchr(p, '\n', n))
			return -EINVAL;
		memcpy(out, p, n);
		out[n] = '\0';
		return 0;
	}
	return -EINVAL;
}

struct mp *mp_new(const char *boundary, const struct mp_callbacks *cb)
{
	struct mp *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cb = *cb;
	m->dlen = (size_t)snprintf(m->delim, sizeof(m->delim), "\r\n--%.*s", MAX_BOUNDARY,
				   boundary);
	/* The first delimiter may open the body without a CRLF before it. */
	m->match = 2;
	return m;
}

void mp_free(struct mp *m)
{
	free(m);
}

/* The value of parameter `key` in a Content-Disposition line; false when
 * absent.  Quoted values lose their quotes and backslashes. */
static bool disp_param(const char *line, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key), n = 0;
	const char *p = line;

	while ((p = strchr(p, ';'))) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, key, klen) != 0 || p[klen] != '=')
			continue;
		p += klen + 1;
		if (*p != '"') {
			n = strcspn(p, ";");
			while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
				n--;
			snprintf(out, outlen, "%.*s", (int)n, p);
			return true;
		}
		for (p++; *p && *p != '"' && n + 1 < outlen; p++) {
			if (*p == '\\' && p[1])
				p++;
			out[n++] = *p;
		}
		out[n] = '\0';
		return true;
	}
	return false;
}

/* The part's headers are in m->hdr: find its names and begin it. */
static int begin_part(struct mp *m)
{
	char name[256] = "", filename[4096] = "";
	int has_fn = 0;

	m->hdr[m->hlen] = '\0';
	for (char *line = m->hdr; line && *line; ) {
		char *eol = strstr(line, "\r\n");

		if (eol)
			*eol = '\0';
		if (strncasecmp(line, "Content-Disposition:", 20) == 0) {
			/* The last such line counts, whole. */
			if (!disp_param(line, "name", name, sizeof(name)))
				name[0] = '\0';
			if (!(has_fn = disp_param(line, "filename", filename, sizeof(filename))))
				filename[0] = '\0';
		}
		line = eol ? eol + 2 : NULL;
	}
	if (++m->parts > MP_MAX_PARTS)
		return -EBADMSG;
	m->in_part = true;
	return m->cb.begin(m->cb.ctx, name, filename, has_fn);
}

/* Headers byte by byte until the blank line. */
static int take_header(struct mp *m, char c)
{
	if (m->hlen >= MAX_HEADERS)
		return -EBADMSG;
	m->hdr[m->hlen++] = c;
	if (m->hlen == 2 && memcmp(m->hdr, "\r\n", 2) == 0)
		m->hlen = 0, m->hdr[0] = '\0';  /* no headers at all */
	else if (m->hlen >= 4 && memcmp(m->hdr + m->hlen - 4, "\r\n\r\n", 4) == 0)
		m->hlen -= 2;
	else
		return 0;
	m->st = S_BODY;
	m->match = 0;
	return begin_part(m);
}

/* A whole delimiter was matched. */
static int on_delim(struct mp *m)
{
	int rc = 0;

	if (m->in_part) {
		m->in_part = false;
		rc = m->cb.end(m->cb.ctx);
	}
	m->st = S_AFTER_DELIM;
	m->nafter = 0;
	m->match = 0;
	return rc;
}

static int after_delim(struct mp *m, char c)
{
	m->after[m->nafter++] = c;
	if (m->nafter < 2)
		return 0;
	if (memcmp(m->after, "--", 2) == 0) {
		m->st = S_DONE;
		return 0;
	}
	if (memcmp(m->after, "\r\n", 2) != 0)
		return -EBADMSG;
	m->st = S_HEADERS;
	m->hlen = 0;
	return 0;
}

/* Where in p[i, n) a delimiter may begin: the first whole one, else the
 * CR of one the next input may complete, else n.  The delimiter's only CR
 * is its first byte, so such a tail starts at the last CR; and a search
 * for the whole delimiter skips ahead by more than a CR at a time, where
 * random bytes hold one every 256. */
static size_t next_candidate(const struct mp *m, const char *p, size_t i, size_t n)
{
	const char *at = memmem(p + i, n - i, m->delim, m->dlen);
	size_t tail;

	if (at)
		return (size_t)(at - p);
	tail = n - i > m->dlen - 1 ? n - (m->dlen - 1) : i;
	at = memrchr(p + tail, '\r', n - tail);
	return at ? (size_t)(at - p) : n;
}

/* Body or preamble bytes: data up to the next delimiter.  The data is
 * given in runs between delimiter candidates that fail, not cut at each
 * CR: random bytes hold a CR every 256, and each piece given costs the
 * upload a write(2). */
static int scan_body(struct mp *m, const char *p, size_t n, size_t *used)
{
	bool emit = m->st == S_BODY;
	size_t carried = m->match;      /* delimiter bytes held back from earlier input */
	size_t i = 0, from = 0;         /* p[from, candidate start) is data not yet given */
	int rc = 0;

	while (i < n) {
		if (m->match == 0 && (i = next_candidate(m, p, i, n)) == n)
			break;
		if (p[i] == m->delim[m->match]) {
			i++;
			if (++m->match == m->dlen) {
				size_t start = i - (m->dlen - carried);

				if (emit && start > from &&
				    (rc = m->cb.data(m->cb.ctx, p + from, start - from)) < 0)
					return rc;
				*used = i;
				return on_delim(m);
			}
			continue;
		}
		/* Mismatch: the bytes held back were data after all; those
		 * of earlier input come first, those here join the run. */
		if (emit && carried && (rc = m->cb.data(m->cb.ctx, m->delim, carried)) < 0)
			return rc;
		carried = 0;
		m->match = 0;
		if (p[i] == '\r') {     /* a delimiter may start here */
			m->match = 1;
			i++;
		}
	}
	n -= m->match - carried;        /* a candidate at the end waits for more */
	if (emit && n > from && (rc = m->cb.data(m->cb.ctx, p + from, n - from)) < 0)
		return rc;
	*used = i;
	return 0;
}

int mp_feed(struct mp *m, const char *p, size_t n)
{
	size_t i = 0, used = 0;
	int rc = 0;

	while (i < n && rc == 0) {
		switch (m->st) {
		case S_PREAMBLE:
		case S_BODY:
			rc = scan_body(m, p + i, n - i, &used);
			i += used;
			break;
		case S_AFTER_DELIM:
			rc = after_delim(m, p[i++]);
			break;
		case S_HEADERS:
			rc = take_header(m, p[i++]);
			break;
		case S_DONE:
			return 0;       /* the epilogue is ignored */
		}
	}
	return rc;
}

int mp_finish(struct mp *m)
{
	return m->st == S_DONE ? 0 : -EBADMSG;
}
