/* Validation of request bodies: each bad input is a 400 with a message,
 * each good one parses to the expected values. */
#include "api/reqbody.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

static char err[256];

static int create(const char *body, struct create_req *req)
{
	err[0] = '\0';
	return rb_parse_create(body, strlen(body), 300, 3600, req, err, sizeof(err));
}

Test(reqbody, create_minimal_gets_defaults)
{
	struct create_req req;

	cr_assert_eq(create("{\"templateID\":\"base\"}", &req), 0, "%s", err);
	cr_expect_str_eq(req.template_name, "base");
	cr_expect_eq(req.timeout_s, 300);
	cr_expect_not(req.auto_pause);
	cr_expect_eq(req.allow_internet, -1);
	cr_expect_null(req.metadata);
	rb_create_free(&req);
}

Test(reqbody, create_full)
{
	struct create_req req;
	const char *body = "{\"templateID\":\"py\",\"timeout\":60,\"autoPause\":true,"
		"\"metadata\":{\"a\":\"1\"},\"envVars\":{\"X\":\"y\"},\"secure\":true,"
		"\"allow_internet_access\":false,\"network\":{\"allowOut\":[\"1.1.1.1\"]},"
		"\"mcp\":null,\"autoResume\":{\"enabled\":false},\"someNewField\":1}";

	cr_assert_eq(create(body, &req), 0, "%s", err);
	cr_expect_eq(req.timeout_s, 60);
	cr_expect(req.auto_pause);
	cr_expect_eq(req.allow_internet, 0);
	cr_expect_str_eq(json_string_value(json_object_get(req.metadata, "a")), "1");
	cr_expect_str_eq(json_string_value(json_object_get(req.env_vars, "X")), "y");
	rb_create_free(&req);
}

Test(reqbody, create_rejects_bad_input)
{
	static const char *const bad[] = {
		"", "{", "[]", "\"base\"", "null", "{}",
		"{\"templateID\":\"\"}",
		"{\"templateID\":5}",
		"{\"templateID\":\"base\",\"timeout\":-1}",
		"{\"templateID\":\"base\",\"timeout\":3601}",
		"{\"templateID\":\"base\",\"timeout\":99999999999999999999}",
		"{\"templateID\":\"base\",\"timeout\":1.5}",
		"{\"templateID\":\"base\",\"timeout\":\"60\"}",
		"{\"templateID\":\"base\",\"autoPause\":\"yes\"}",
		"{\"templateID\":\"base\",\"metadata\":[]}",
		"{\"templateID\":\"base\",\"metadata\":{\"a\":1}}",
		"{\"templateID\":\"base\",\"envVars\":{\"a\":null}}",
		"{\"templateID\":\"base\",\"network\":{\"allowOut\":\"x\"}}",
		"{\"templateID\":\"base\",\"autoResume\":true}",
		"{\"templateID\":\"base\",\"volumeMounts\":[{\"name\":1}]}",
		"{\"templateID\":\"base\",\"templateID\":\"base\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct create_req req;

		cr_expect_eq(create(bad[i], &req), -EINVAL, "accepted: %s", bad[i]);
		cr_expect_neq(err[0], '\0', "no message for: %s", bad[i]);
		cr_expect_null(req.root);
	}
}

Test(reqbody, timeout_and_connect)
{
	unsigned t = 0;

	cr_expect_eq(rb_parse_timeout("{\"timeout\":0}", 13, 100, &t, err, sizeof(err)), 0);
	cr_expect_eq(t, 0);
	cr_expect_eq(rb_parse_timeout("{\"timeout\":100}", 15, 100, &t, err, sizeof(err)), 0);
	cr_expect_eq(t, 100);
	cr_expect_eq(rb_parse_timeout("{\"timeout\":101}", 15, 100, &t, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rb_parse_timeout("{\"timeout\":-5}", 14, 100, &t, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rb_parse_timeout("{}", 2, 100, &t, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rb_parse_timeout("", 0, 100, &t, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rb_parse_timeout("{\"timeout\":true}", 16, 100, &t, err, sizeof(err)), -EINVAL);
}

Test(reqbody, connect_timeout_is_optional)
{
	unsigned t = 0;

	cr_expect_eq(rb_parse_connect("{}", 2, 300, 600, &t, err, sizeof(err)), 0);
	cr_expect_eq(t, 300);
	cr_expect_eq(rb_parse_connect("", 0, 300, 600, &t, err, sizeof(err)), 0);
	cr_expect_eq(t, 300);
	cr_expect_eq(rb_parse_connect("{\"timeout\":9,\"memory\":false}", 28, 300, 600, &t, err,
				      sizeof(err)), 0);
	cr_expect_eq(t, 9);
	cr_expect_eq(rb_parse_connect("{\"timeout\":601}", 15, 300, 600, &t, err, sizeof(err)),
		     -EINVAL);
	cr_expect_eq(rb_parse_connect("{\"timeout\":-1}", 14, 300, 600, &t, err, sizeof(err)),
		     -EINVAL);
	cr_expect_eq(rb_parse_connect("{\"memory\":0}", 12, 300, 600, &t, err, sizeof(err)),
		     -EINVAL);
	cr_expect_eq(rb_parse_connect("[]", 2, 300, 600, &t, err, sizeof(err)), -EINVAL);
}

Test(reqbody, optional_bodies)
{
	unsigned d = 0;

	cr_expect_eq(rb_parse_pause("", 0, err, sizeof(err)), 0);
	cr_expect_eq(rb_parse_pause("{}", 2, err, sizeof(err)), 0);
	cr_expect_eq(rb_parse_pause("{\"memory\":true}", 15, err, sizeof(err)), 0);
	cr_expect_eq(rb_parse_pause("{\"memory\":1}", 12, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rb_parse_pause("nope", 4, err, sizeof(err)), -EINVAL);

	cr_expect_eq(rb_parse_refresh("", 0, 15, &d, err, sizeof(err)), 0);
	cr_expect_eq(d, 15);
	cr_expect_eq(rb_parse_refresh("{\"duration\":60}", 15, 15, &d, err, sizeof(err)), 0);
	cr_expect_eq(d, 60);
	cr_expect_eq(rb_parse_refresh("{\"duration\":3601}", 17, 15, &d, err, sizeof(err)), -EINVAL);

	cr_expect_eq(rb_parse_resume("", 0, 300, 600, &d, err, sizeof(err)), 0);
	cr_expect_eq(d, 300);
	cr_expect_eq(rb_parse_resume("{\"timeout\":30,\"autoPause\":true}", 31, 300, 600, &d,
				     err, sizeof(err)), 0);
	cr_expect_eq(d, 30);
	cr_expect_eq(rb_parse_resume("{\"timeout\":601}", 15, 300, 600, &d, err, sizeof(err)),
		     -EINVAL);
}
