/* The secret set and the one text policy (scrub.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "util/scrub.h"

#define KEY "sk_live_0123456789abcdef"

static char buf[256];

static const char *scrub(const char *s)
{
	scrub_text(buf, sizeof(buf), s, strlen(s));
	return buf;
}

static void reset(void)
{
	scrub_reset();
}

Test(scrub, printable_line, .init = reset)
{
	char small[16];

	cr_expect_str_eq(scrub("ok msg"), "ok msg");
	scrub_text(small, sizeof(small), "a\nb\x1b[31m\xc3\xa9", 10);
	cr_expect_str_eq(small, "a?b?[31m\xc3\xa9", "valid UTF-8 stays");
	scrub_text(small, sizeof(small), "x\xc3(\xff\xed\xa0\x80", 7);
	cr_expect_str_eq(small, "x?(????", "invalid UTF-8 and surrogates become '?'");
	scrub_text(small, sizeof(small), "0123456789abcdefghij", 20);
	cr_expect_str_eq(small, "0123456789ab...");
	scrub_text(small, sizeof(small), "0123456789abcde", 15);
	cr_expect_str_eq(small, "0123456789abcde", "a text that fits exactly is not cut");
	scrub_text(small, sizeof(small), "0123456789a\xe2\x82\xac" "bcdef", 19);
	cr_expect_str_eq(small, "0123456789a...", "cut between characters");
	scrub_text(small, sizeof(small), "a\0b", 3);
	cr_expect_str_eq(small, "a?b");
	scrub_text(small, sizeof(small), NULL, 5);
	cr_expect_str_eq(small, "");
	scrub_text(small, 3, "abcdef", 6);
	cr_expect_str_eq(small, "ab");

	char big[600];
	struct api_error e;

	memset(big, 'x', sizeof(big));
	scrub_text(e.message, sizeof(e.message), big, sizeof(big));
	cr_expect_eq(strlen(e.message), sizeof(e.message) - 1);
}

Test(scrub, every_occurrence_of_every_secret, .init = reset)
{
	cr_assert_eq(scrub_add(KEY), 0);
	cr_assert_eq(scrub_add("tok/en+1"), 0);
	cr_expect_str_eq(scrub("key " KEY " again " KEY "!"), "key *** again ***!");
	cr_expect_str_eq(scrub(KEY KEY), "******");
	cr_expect_str_eq(scrub("x" KEY "\n"), "x***?");
	cr_expect_str_eq(scrub("t=tok/en+1&u=tok%2Fen%2B1&v=tok%2fen%2b1"), "t=***&u=***&v=***");
	cr_expect_str_eq(scrub("sk_live_ alone"), "sk_live_ alone", "a short piece inside is text");
	scrub_remove("tok/en+1");
	cr_expect_str_eq(scrub("tok/en+1 " KEY), "tok/en+1 ***");
}

Test(scrub, a_secret_cut_at_either_end_of_the_text, .init = reset)
{
	cr_assert_eq(scrub_add(KEY), 0);
	cr_expect_str_eq(scrub("the key is sk_live_0123"), "the key is ***");
	cr_expect_str_eq(scrub("89abcdef was the key"), "*** was the key");
	cr_expect_str_eq(scrub("ends in sk_live"), "ends in sk_live", "7 bytes are not enough");
}

Test(scrub, secrets_are_matched_before_the_cut, .init = reset)
{
	char small[24];

	cr_assert_eq(scrub_add(KEY), 0);
	scrub_text(small, sizeof(small), "0123456789 " KEY, strlen("0123456789 " KEY));
	cr_expect_null(strstr(small, "sk_live"), "%s", small);
	cr_expect_str_eq(small, "0123456789 ***");
}

Test(scrub, counted_add_and_remove, .init = reset)
{
	cr_expect_eq(scrub_add(NULL), -EINVAL);
	cr_expect_eq(scrub_add(""), -EINVAL);
	cr_assert_eq(scrub_add(KEY), 0);
	cr_assert_eq(scrub_add(KEY), 0);
	scrub_remove(KEY);
	cr_expect_str_eq(scrub(KEY), "***", "one count left");
	scrub_remove(KEY);
	cr_expect_str_eq(scrub(KEY), KEY);
	scrub_remove(KEY);
	scrub_remove("never added");
	scrub_remove(NULL);
}

#define N_THREADS 4
#define ROUNDS 2000

static void *churn(void *arg)
{
	char secret[32], text[64], out[64];
	long id = (long)arg;

	for (int i = 0; i < ROUNDS; i++) {
		snprintf(secret, sizeof(secret), "secret-%ld-%04d", id, i);
		snprintf(text, sizeof(text), "a %s b", secret);
		if (scrub_add(secret) < 0)
			return (void *)1;
		scrub_text(out, sizeof(out), text, strlen(text));
		if (strcmp(out, "a *** b") != 0)
			return (void *)2;
		scrub_remove(secret);
	}
	return NULL;
}

Test(scrub, many_threads_add_use_and_remove, .init = reset)
{
	pthread_t t[N_THREADS];
	void *r;

	cr_assert_eq(scrub_add(KEY), 0);
	for (long i = 0; i < N_THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, churn, (void *)i), 0);
	for (int i = 0; i < N_THREADS; i++) {
		cr_assert_eq(pthread_join(t[i], &r), 0);
		cr_expect_null(r, "thread %d failed (%p)", i, r);
	}
	cr_expect_str_eq(scrub("k=" KEY), "k=***");
	cr_expect_str_eq(scrub("secret-1-0007"), "secret-1-0007", "removed ones are gone");
	scrub_reset();
}
