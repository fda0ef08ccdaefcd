/* A JSON array scanner that only splits, never parses.
 *
 * A list page has been parsed by jansson already; what is left is to find
 * where each element starts and ends, so that model.c can keep its raw
 * bytes and render info.json from them only when somebody reads it.  On
 * valid JSON that needs nothing but string boundaries (with their escapes)
 * and the nesting depth of {} and [].  Every step still checks the end of
 * the buffer, so text that is not what the caller promised gives -EIO,
 * never an out-of-bounds read. */
#include <errno.h>
#include <stdbool.h>

#include "jscan.h"

enum { JSCAN_START, JSCAN_NEXT, JSCAN_DONE, JSCAN_BAD };

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

/* p is just past an opening quote; returns just past the closing one, or
 * NULL if the text ends first.  A backslash always escapes exactly the
 * next byte as far as finding the end goes: \uXXXX's digits are neither
 * quotes nor backslashes. */
static const char *skip_string(const char *p, const char *end)
{
	while (p < end) {
		if (*p == '\\') {
			p += 2;
			continue;
		}
		if (*p++ == '"')
			return p;
	}
	return NULL;
}

/* From the first byte of an element, the byte that ends it: the ',' or
 * the array's ']' at depth 0.  NULL if there is none. */
static const char *element_end(const char *p, const char *end)
{
	size_t depth = 0;

	while (p && p < end) {
		switch (*p) {
		case '"':
			p = skip_string(p + 1, end);
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return p;
			depth--;
			break;
		case ',':
			if (depth == 0)
				return p;
			break;
		default:
			break;
		}
		p++;
	}
	return NULL;
}

void jscan_init(struct jscan *c, const char *text, size_t len)
{
	c->p = text;
	c->end = text ? text + len : text;
	c->state = JSCAN_START;
}

static int bad(struct jscan *c)
{
	c->state = JSCAN_BAD;
	return -EIO;
}

static int done(struct jscan *c, const char *close)
{
	c->state = JSCAN_DONE;
	c->p = close + 1;
	return 0;
}

int jscan_next(struct jscan *c, const char **elem, size_t *len)
{
	const char *p = c->p, *stop, *last;

	if (c->state == JSCAN_DONE)
		return 0;
	if (c->state == JSCAN_BAD || !p)
		return bad(c);
	if (c->state == JSCAN_START) {
		p = skip_ws(p, c->end);
		if (p == c->end || *p != '[')
			return bad(c);
		p = skip_ws(p + 1, c->end);
		if (p < c->end && *p == ']')
			return done(c, p);
	} else {
		/* c->p is the ',' or ']' that ended the last element */
		if (*p == ']')
			return done(c, p);
		p = skip_ws(p + 1, c->end);
	}
	if (p == c->end || *p == ',' || *p == ']' || *p == '}')
		return bad(c);
	stop = element_end(p, c->end);
	if (!stop || *stop == '}')
		return bad(c);
	last = stop;
	while (last > p && is_ws(last[-1]))
		last--;
	*elem = p;
	*len = (size_t)(last - p);
	c->p = stop;
	c->state = JSCAN_NEXT;
	return 1;
}
