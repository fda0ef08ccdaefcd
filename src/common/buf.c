/* Capped growable buffer; see buf.h. */
#include "common/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 1024

void buf_init(struct buf *b, size_t max)
{
	*b = (struct buf){ .max = max };
}

/* Grows cap to hold need bytes, doubling so n appends cost O(n). */
static int reserve(struct buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : FIRST_CAP;
	char *grown;

	if (need <= b->cap)
		return 0;
	while (cap < need)
		cap = cap > (size_t)-1 / 2 ? need : cap * 2;
	grown = realloc(b->data, cap);
	if (!grown)
		return -ENOMEM;
	b->data = grown;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	if (b->over && !b->data)
		return -EFBIG;
	if (n > b->max - b->len) {
		buf_release(b);
		b->over = true;
		return -EFBIG;
	}
	if (reserve(b, b->len + n + 1) < 0) {
		b->over = true;
		return -ENOMEM;
	}
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

char *buf_steal(struct buf *b, size_t *len)
{
	char *data = b->data;

	if (len)
		*len = b->len;
	buf_init(b, b->max);
	return data;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}
