/* The secret set and the text policy; see scrub.h. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/scrub.h"

/* A cut secret shorter than this is not recognised at the text's ends:
 * fewer bytes would match ordinary words. */
#define MIN_PIECE 8
#define N_FORMS 3      /* verbatim, %-encoded with upper and lower hex */

struct secret {
	char *form[N_FORMS];    /* malloc'd; form[1], form[2] NULL when equal to form[0] */
	size_t len[N_FORMS];
	unsigned refs;
};

/* lock guards set and n_set: written by add/remove/reset, read while a
 * text is scanned. */
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct secret *set;
static size_t n_set;

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* s %-encoded with the given hex digits; malloc'd, NULL when out of
 * memory or when nothing needed encoding (*same set). */
static char *percent_encode(const char *s, const char *hex, bool *same)
{
	char *out = malloc(strlen(s) * 3 + 1), *p = out;

	*same = true;
	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (unreserved(c)) {
			*p++ = (char)c;
			continue;
		}
		*same = false;
		*p++ = '%';
		*p++ = hex[c >> 4];
		*p++ = hex[c & 15];
	}
	*p = '\0';
	if (*same) {
		free(out);
		return NULL;
	}
	return out;
}

static void secret_clear(struct secret *s)
{
	for (int i = 0; i < N_FORMS; i++) {
		if (s->form[i]) {
			explicit_bzero(s->form[i], s->len[i]);
			free(s->form[i]);
		}
		s->form[i] = NULL;
	}
}

static int secret_make(struct secret *s, const char *secret)
{
	static const char *const hex[] = { "0123456789ABCDEF", "0123456789abcdef" };
	bool same;

	memset(s, 0, sizeof(*s));
	s->refs = 1;
	if (!(s->form[0] = strdup(secret)))
		return -ENOMEM;
	for (int i = 1; i < N_FORMS; i++) {
		s->form[i] = percent_encode(secret, hex[i - 1], &same);
		if (!s->form[i] && !same) {
			secret_clear(s);
			return -ENOMEM;
		}
	}
	for (int i = 0; i < N_FORMS; i++)
		s->len[i] = s->form[i] ? strlen(s->form[i]) : 0;
	return 0;
}

/* The entry for secret, or NULL.  Called with the lock held. */
static struct secret *find_locked(const char *secret)
{
	for (size_t i = 0; i < n_set; i++)
		if (strcmp(set[i].form[0], secret) == 0)
			return &set[i];
	return NULL;
}

int scrub_add(const char *secret)
{
	struct secret s, *e, *grown;
	int r = 0;

	if (!secret || !*secret)
		return -EINVAL;
	if (secret_make(&s, secret) < 0)
		return -ENOMEM;
	pthread_rwlock_wrlock(&lock);
	if ((e = find_locked(secret)) != NULL) {
		e->refs++;
		secret_clear(&s);
	} else if ((grown = realloc(set, (n_set + 1) * sizeof(*set))) == NULL) {
		secret_clear(&s);
		r = -ENOMEM;
	} else {
		set = grown;
		set[n_set++] = s;
	}
	pthread_rwlock_unlock(&lock);
	return r;
}

void scrub_remove(const char *secret)
{
	struct secret *e;

	if (!secret)
		return;
	pthread_rwlock_wrlock(&lock);
	if ((e = find_locked(secret)) != NULL && --e->refs == 0) {
		secret_clear(e);
		*e = set[--n_set];
	}
	pthread_rwlock_unlock(&lock);
}

void scrub_reset(void)
{
	pthread_rwlock_wrlock(&lock);
	for (size_t i = 0; i < n_set; i++)
		secret_clear(&set[i]);
	free(set);
	set = NULL;
	n_set = 0;
	pthread_rwlock_unlock(&lock);
}

/* How many bytes at src[pos] are (part of) a secret to hide, 0 if none:
 * a whole form anywhere, a form's start at the very end of the text, a
 * form's end at its very start.  Called with the lock held. */
static size_t secret_at(const char *src, size_t len, size_t pos)
{
	size_t rest = len - pos;

	for (size_t i = 0; i < n_set; i++) {
		for (int f = 0; f < N_FORMS; f++) {
			const char *s = set[i].form[f];
			size_t sl = set[i].len[f];

			if (!s)
				continue;
			if (sl <= rest && memcmp(src + pos, s, sl) == 0)
				return sl;
			if (sl > rest && rest >= MIN_PIECE && memcmp(src + pos, s, rest) == 0)
				return rest;
			if (pos == 0)
				for (size_t k = sl - 1 < rest ? sl - 1 : rest; k >= MIN_PIECE; k--)
					if (memcmp(src, s + sl - k, k) == 0)
						return k;
		}
	}
	return 0;
}

/* Length of the valid UTF-8 sequence of two or more bytes at p, else 0. */
static size_t utf8_seq(const unsigned char *p, size_t rest)
{
	size_t n = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
		 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;

	if (n == 0 || n > rest)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

size_t scrub_text(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t o = 0, cut = 0, pos = 0;

	if (!dst || dstlen == 0)
		return 0;
	if (!src)
		len = 0;
	pthread_rwlock_rdlock(&lock);
	while (pos < len) {
		const unsigned char *p = (const unsigned char *)src + pos;
		size_t hidden = secret_at(src, len, pos), take, n;
		const char *out;

		if (hidden) {
			out = "***", n = 3, take = hidden;
		} else if (*p >= 0x20 && *p < 0x7f) {
			out = (const char *)p, n = 1, take = 1;
		} else if (*p >= 0x80 && (take = utf8_seq(p, len - pos)) > 0) {
			out = (const char *)p, n = take;
		} else {
			out = "?", n = 1, take = 1;
		}
		if (o + n > dstlen - 1) {
			/* Does not fit: end at the last character boundary
			 * that leaves room for "...". */
			if (dstlen > 4) {
				o = cut;
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(dst + o, out, n);
		o += n;
		pos += take;
		if (o + 4 <= dstlen)
			cut = o;
	}
	pthread_rwlock_unlock(&lock);
	dst[o] = '\0';
	return o;
}
