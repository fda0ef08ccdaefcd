/* https backends: sbxfs verifies the certificate (a self-signed server
 * fails at mount time with a clear message) and -o cafile= trusts a
 * private CA.  The server is a small libmicrohttpd TLS stub on loopback
 * serving one sandbox, with a certificate made by openssl at test time. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnt.h"

#define TLS_KEY "sk_tls_test_key_0123456789"

static const char sandbox_list[] =
	"[{\"sandboxID\":\"tls0sandbox0000001\",\"templateID\":\"base\",\"alias\":\"base\","
	"\"clientID\":\"c\",\"startedAt\":\"2026-11-28T14:00:00Z\","
	"\"endAt\":\"2099-01-01T00:00:00Z\",\"state\":\"running\",\"cpuCount\":2,"
	"\"memoryMB\":512,\"diskSizeMB\":1024,\"envdVersion\":\"0.2.0\","
	"\"metadata\":{\"sbxfs.name\":\"secure\"}}]";

static struct {
	char tmp[64];
	char cert[96], key[96], keyfile[96], mnt[96], log[96];
	struct MHD_Daemon *d;
	uint16_t port;
	pid_t pid;
} T;

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **ctx)
{
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
	const char *body = "{\"code\":404,\"message\":\"not found\"}";
	unsigned status = 404;
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls, (void)version, (void)data, (void)size, (void)ctx;
	if (!key || strcmp(key, TLS_KEY) != 0) {
		status = 401;
		body = "{\"code\":401,\"message\":\"invalid API key\"}";
	} else if (strcmp(method, "GET") == 0 && strcmp(url, "/v2/sandboxes") == 0) {
		status = 200;
		body = sandbox_list;
	}
	r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void setup(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char cmd[512], *cert, *key;
	FILE *f;

	if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
		cr_skip_test("libmicrohttpd has no TLS");
	snprintf(T.tmp, sizeof(T.tmp), "/tmp/sbxfs-tls-XXXXXX");
	cr_assert_not_null(mkdtemp(T.tmp));
	snprintf(T.cert, sizeof(T.cert), "%s/cert.pem", T.tmp);
	snprintf(T.key, sizeof(T.key), "%s/key.pem", T.tmp);
	snprintf(T.keyfile, sizeof(T.keyfile), "%s/apikey", T.tmp);
	snprintf(T.mnt, sizeof(T.mnt), "%s/m", T.tmp);
	snprintf(T.log, sizeof(T.log), "%s/sbxfs.log", T.tmp);
	cr_assert_eq(mkdir(T.mnt, 0755), 0);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
		 "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
		 "-keyout '%s' -out '%s' >/dev/null 2>&1", T.key, T.cert);
	cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
	f = fopen(T.keyfile, "w");
	fputs(TLS_KEY "\n", f);
	fclose(f);
	cert = slurp(T.cert, NULL);
	key = slurp(T.key, NULL);
	cr_assert(cert && key);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS,
			       0, NULL, NULL, answer, NULL,
			       MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			       MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, cert,
			       MHD_OPTION_END);
	cr_assert_not_null(T.d, "the TLS stub did not start");
	T.port = MHD_get_daemon_info(T.d, MHD_DAEMON_INFO_BIND_PORT)->port;
	free(cert);
	free(key);
}

static bool tls_mounted(void)
{
	struct stat a, b;

	return stat(T.mnt, &a) == 0 && stat(T.tmp, &b) == 0 && a.st_dev != b.st_dev;
}

static void teardown(void)
{
	char cmd[256];
	int status;

	if (T.pid > 0) {
		snprintf(cmd, sizeof(cmd), "fusermount3 -u '%s' 2>/dev/null || "
			 "fusermount3 -uz '%s' 2>/dev/null", T.mnt, T.mnt);
		if (system(cmd) != 0)
			kill(T.pid, SIGTERM);
		waitpid(T.pid, &status, 0);
	}
	if (T.d)
		MHD_stop_daemon(T.d);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T.tmp);
	if (T.tmp[0] && system(cmd) != 0)
		cr_log_warn("cannot remove %s", T.tmp);
}

/* Starts sbxfs -f against the stub with extra options; true once mounted,
 * false with *status when it exited. */
static bool start(const char *extra, int *status)
{
	char opt[512];

	snprintf(opt, sizeof(opt), "api_url=https://127.0.0.1:%u,api_key_file=%s,"
		 "connect_timeout=2,request_timeout=3,retry_deadline=4%s%s",
		 T.port, T.keyfile, extra ? "," : "", extra ? extra : "");
	unlink(T.log);   /* each start reads only its own output */
	T.pid = mnt_spawn_sbxfs(T.mnt, opt, T.log);
	for (int i = 0; i < 300; i++) {
		if (tls_mounted())
			return true;
		if (waitpid(T.pid, status, WNOHANG) == T.pid) {
			T.pid = 0;
			return false;
		}
		usleep(50 * 1000);
	}
	cr_assert_fail("sbxfs neither mounted nor exited");
	return false;
}

Test(tls, self_signed_is_refused_with_a_clear_message, .init = setup, .fini = teardown,
     .timeout = 60)
{
	int status = 0;
	char *log;

	cr_assert_not(start(NULL, &status), "mounted against an untrusted certificate");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %#x", status);
	cr_expect_not(tls_mounted());
	log = slurp(T.log, NULL);
	cr_assert_not_null(log);
	cr_expect(strstr(log, "sbxfs: cannot reach https://127.0.0.1:"), "%s", log);
	cr_expect(strstr(log, "TLS") && strstr(log, "certificate"),
		  "the message does not say it is the certificate: %s", log);
	cr_expect_null(strstr(log, TLS_KEY));
	cr_log_info("%s", log);
	free(log);
}

Test(tls, cafile_trusts_a_private_ca, .init = setup, .fini = teardown, .timeout = 60)
{
	char opt[160], path[192], *state, *status_text;
	int status = 0;

	snprintf(opt, sizeof(opt), "cafile=%s", T.cert);
	cr_assert(start(opt, &status), "did not mount with cafile: %#x\n%s", status,
		  slurp(T.log, NULL));
	snprintf(path, sizeof(path), "%s/secure/state", T.mnt);
	state = slurp(path, NULL);
	cr_expect_not_null(state, "%s: %s", path, strerror(errno));
	cr_expect_str_eq(state ? state : "", "running\n");
	free(state);
	snprintf(path, sizeof(path), "%s/.sbxfs/status", T.mnt);
	status_text = slurp(path, NULL);
	cr_expect(status_text && strstr(status_text, "reachable=yes"), "%s", status_text);
	free(status_text);
}

Test(tls, wrong_cafile_is_refused, .init = setup, .fini = teardown, .timeout = 60)
{
	char other[128], cmd[384], opt[160];
	int status = 0;

	snprintf(other, sizeof(other), "%s/other.pem", T.tmp);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
		 "-subj /CN=127.0.0.1 -keyout '%s/other.key' -out '%s' >/dev/null 2>&1",
		 T.tmp, other);
	cr_assert_eq(system(cmd), 0);
	snprintf(opt, sizeof(opt), "cafile=%s", other);
	cr_assert_not(start(opt, &status), "mounted with a CA that did not sign the server");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}
