#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "model/jscan.h"

/* Scans text and checks each element against want[] (NULL-terminated);
 * also checks that jansson, which the scanner relies on, takes the text
 * as an array of as many elements. */
static void expect_elements(const char *text, const char *const *want)
{
	json_t *root = json_loads(text, 0, NULL);
	struct jscan c;
	const char *e;
	size_t len, i = 0;
	int r;

	cr_assert(json_is_array(root), "test text is not a JSON array: %s", text);
	jscan_init(&c, text, strlen(text));
	while ((r = jscan_next(&c, &e, &len)) == 1) {
		cr_assert_not_null(want[i], "extra element %zu in %s", i, text);
		cr_expect_eq(len, strlen(want[i]), "element %zu: %.*s", i, (int)len, e);
		cr_expect_eq(memcmp(e, want[i], len < strlen(want[i]) ? len : strlen(want[i])), 0,
			     "element %zu: %.*s", i, (int)len, e);
		i++;
	}
	cr_expect_eq(r, 0, "scan of %s failed", text);
	cr_expect_null(want[i], "element %zu missing in %s", i, text);
	cr_expect_eq(i, json_array_size(root));
	cr_expect_eq(jscan_next(&c, &e, &len), 0, "not done for good");
	json_decref(root);
}

Test(jscan, empty_arrays)
{
	static const char *const none[] = { NULL };

	expect_elements("[]", none);
	expect_elements(" \t\r\n[ \n\t ]\n", none);
}

Test(jscan, scalars_and_whitespace)
{
	expect_elements("[1,2.5e3,-0,true,false,null,\"s\"]",
			(const char *const[]){ "1", "2.5e3", "-0", "true", "false", "null",
					       "\"s\"", NULL });
	expect_elements("\n [ \t1 \n, \r\n\"a b\"\t\t ,\n null\n ] \n",
			(const char *const[]){ "1", "\"a b\"", "null", NULL });
}

Test(jscan, strings_hide_structure)
{
	expect_elements("[\"],[\",\"{\",\"}\",\",\",\"\\\"]\",\"\\\\\",\"\\\\\\\"\"]",
			(const char *const[]){ "\"],[\"", "\"{\"", "\"}\"", "\",\"",
					       "\"\\\"]\"", "\"\\\\\"", "\"\\\\\\\"\"", NULL });
	/* A backslash pair just before the closing quote ends the string. */
	expect_elements("[{\"k\\\\\":\"v\\\\\"},{\"x\":\"\\u005d\\/\\n\"}]",
			(const char *const[]){ "{\"k\\\\\":\"v\\\\\"}",
					       "{\"x\":\"\\u005d\\/\\n\"}", NULL });
	/* UTF-8 passes through as bytes. */
	expect_elements("[\"café ☃ 😀\",\"\\ud83d\\ude00\"]",
			(const char *const[]){ "\"café ☃ 😀\"", "\"\\ud83d\\ude00\"", NULL });
}

Test(jscan, nesting)
{
	expect_elements("[[],{},[[]],[{\"a\":[1,{\"b\":[]}]},2],{\"c\":{\"d\":[[],[[3]]]}}]",
			(const char *const[]){ "[]", "{}", "[[]]", "[{\"a\":[1,{\"b\":[]}]},2]",
					       "{\"c\":{\"d\":[[],[[3]]]}}", NULL });
	expect_elements("[ { \"a\" : [ 1 , 2 ] , \"b\" : { } } \n\n , [ \"]\" , { \"}\" : \"[\" } ]\t]",
			(const char *const[]){ "{ \"a\" : [ 1 , 2 ] , \"b\" : { } }",
					       "[ \"]\" , { \"}\" : \"[\" } ]", NULL });
}

/* Not the promised input: no crash, no read past the end, -EIO. */
Test(jscan, not_an_array)
{
	static const char *const bad[] = { "", "   ", "{}", "1", "[", "[1", "[1,", "[\"]",
		"[\"\\", "[{]", "[,1]", "[1,,2]", "[1,]", "[1}" };
	struct jscan c;
	const char *e;
	size_t len;
	int r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		jscan_init(&c, bad[i], strlen(bad[i]));
		while ((r = jscan_next(&c, &e, &len)) == 1)
			;
		cr_expect_eq(r, -EIO, "accepted %s", bad[i]);
		cr_expect_eq(jscan_next(&c, &e, &len), -EIO, "not bad for good: %s", bad[i]);
	}
	jscan_init(&c, NULL, 0);
	cr_expect_eq(jscan_next(&c, &e, &len), -EIO);
}

/* The scan stops at the array's length, not at a NUL or the buffer's end. */
Test(jscan, length_bounded)
{
	const char text[] = "[1,2]garbage";
	struct jscan c;
	const char *e;
	size_t len;

	jscan_init(&c, text, 5);
	cr_expect_eq(jscan_next(&c, &e, &len), 1);
	cr_expect_eq(jscan_next(&c, &e, &len), 1);
	cr_expect_eq(jscan_next(&c, &e, &len), 0);
	jscan_init(&c, text, 4);   /* "[1,2" */
	cr_expect_eq(jscan_next(&c, &e, &len), 1);
	cr_expect_eq(jscan_next(&c, &e, &len), -EIO);
}
