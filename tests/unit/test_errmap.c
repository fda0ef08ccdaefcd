#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <curl/curl.h>

#include "api/api.h"
#include "api/errmap.h"

static const enum api_op all_ops[] = {
	API_OP_LIST, API_OP_GET, API_OP_CREATE, API_OP_KILL, API_OP_TIMEOUT,
	API_OP_PAUSE, API_OP_RESUME, API_OP_PROBE,
};
#define N_OPS (sizeof(all_ops) / sizeof(all_ops[0]))

Test(errmap, status_same_for_every_op)
{
	static const struct { int status; int want; } table[] = {
		{ 200, 0 }, { 201, 0 }, { 204, 0 },
		{ 400, -EINVAL }, { 401, -EACCES }, { 403, -EACCES }, { 404, -ENOENT },
		{ 413, -EFBIG }, { 500, -EIO }, { 501, -EIO }, { 502, -EIO }, { 503, -EIO },
		{ 504, -EIO }, { 599, -EIO }, { 302, -EIO }, { 418, -EIO }, { 405, -EIO },
		{ 0, -EIO }, { 100, -EIO },
	};
	for (size_t o = 0; o < N_OPS; o++)
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
			for (int q = 0; q < 2; q++)
				cr_expect_eq(api_errno_for_status(all_ops[o], table[i].status, q),
					     table[i].want, "op %d status %d quota %d", all_ops[o],
					     table[i].status, q);
}

Test(errmap, conflict_per_op)
{
	for (size_t o = 0; o < N_OPS; o++) {
		int want = all_ops[o] == API_OP_CREATE ? -EEXIST : -EBUSY;

		cr_expect_eq(api_errno_for_status(all_ops[o], 409, false), want, "op %d", all_ops[o]);
	}
}

Test(errmap, rate_limit_and_quota)
{
	for (size_t o = 0; o < N_OPS; o++) {
		cr_expect_eq(api_errno_for_status(all_ops[o], 429, false), -EAGAIN);
		cr_expect_eq(api_errno_for_status(all_ops[o], 429, true),
			     all_ops[o] == API_OP_CREATE ? -EDQUOT : -EAGAIN, "op %d", all_ops[o]);
	}
	cr_expect(errmap_is_quota_message("maximum number of concurrent sandboxes reached"));
	cr_expect(errmap_is_quota_message("Sandbox limit exceeded"));
	cr_expect(errmap_is_quota_message("QUOTA exhausted"));
	cr_expect_not(errmap_is_quota_message("Rate limit exceeded"));
	cr_expect_not(errmap_is_quota_message("too many requests"));
	cr_expect_not(errmap_is_quota_message(""));
	cr_expect_not(errmap_is_quota_message(NULL));
}

Test(errmap, curl_codes)
{
	static const struct { int code; int want; } table[] = {
		{ CURLE_OK, 0 },
		{ CURLE_OPERATION_TIMEDOUT, -ETIMEDOUT },
		{ CURLE_COULDNT_CONNECT, -ECONNREFUSED },
		{ CURLE_COULDNT_RESOLVE_HOST, -EHOSTUNREACH },
		{ CURLE_COULDNT_RESOLVE_PROXY, -EHOSTUNREACH },
		{ CURLE_PEER_FAILED_VERIFICATION, -ECONNREFUSED },
		{ CURLE_SSL_CONNECT_ERROR, -ECONNREFUSED },
		{ CURLE_SSL_CACERT_BADFILE, -ECONNREFUSED },
		{ CURLE_SSL_CERTPROBLEM, -ECONNREFUSED },
		{ CURLE_OUT_OF_MEMORY, -ENOMEM },
		{ CURLE_URL_MALFORMAT, -EINVAL },
		{ CURLE_UNSUPPORTED_PROTOCOL, -EINVAL },
		{ CURLE_GOT_NOTHING, -EIO },
		{ CURLE_RECV_ERROR, -EIO },
		{ CURLE_SEND_ERROR, -EIO },
		{ CURLE_PARTIAL_FILE, -EIO },
		{ CURLE_WRITE_ERROR, -EIO },
		{ CURLE_TOO_MANY_REDIRECTS, -EIO },
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		cr_expect_eq(api_errno_for_curl(table[i].code), table[i].want, "curl %d (%s)",
			     table[i].code, curl_easy_strerror((CURLcode)table[i].code));
	cr_expect(errmap_is_tls(CURLE_PEER_FAILED_VERIFICATION));
	cr_expect_not(errmap_is_tls(CURLE_COULDNT_CONNECT));
}

Test(errmap, transfer_refines_connect)
{
	cr_expect_eq(errmap_transfer(CURLE_COULDNT_CONNECT, ECONNREFUSED), -ECONNREFUSED);
	cr_expect_eq(errmap_transfer(CURLE_COULDNT_CONNECT, 0), -ECONNREFUSED);
	cr_expect_eq(errmap_transfer(CURLE_COULDNT_CONNECT, EHOSTUNREACH), -EHOSTUNREACH);
	cr_expect_eq(errmap_transfer(CURLE_COULDNT_CONNECT, ENETUNREACH), -EHOSTUNREACH);
	cr_expect_eq(errmap_transfer(CURLE_COULDNT_CONNECT, ETIMEDOUT), -ETIMEDOUT);
	cr_expect_eq(errmap_transfer(CURLE_OPERATION_TIMEDOUT, 0), -ETIMEDOUT);
}
