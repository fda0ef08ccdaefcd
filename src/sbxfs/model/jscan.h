/* Finding the elements of a JSON array in its text, for keeping one
 * element's bytes without re-serializing the value a parser made of it. */
#ifndef SBXFS_JSCAN_H
#define SBXFS_JSCAN_H

#include <stddef.h>

/* A position in an array's text; every member is private. */
struct jscan {
	const char *p, *end;
	int state;
};

/* Starts a scan of text[0..len), which must be a JSON array that a JSON
 * parser has accepted: the scanner checks only what it needs to stay in
 * bounds, not the grammar.  text is borrowed for the whole scan. */
void jscan_init(struct jscan *c, const char *text, size_t len);

/* The next top-level element: returns 1 with *elem (borrowed from the
 * text) and *len covering it without the whitespace around it, 0 once the
 * closing ']' is reached, -EIO if the text is not an array after all (then
 * and after 0 every later call gives the same). */
int jscan_next(struct jscan *c, const char **elem, size_t *len);

#endif
