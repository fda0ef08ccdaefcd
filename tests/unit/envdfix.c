/* See envdfix.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "envdfix.h"
#include "common/scrub.h"
#include "http/server.h"
#include "testrt.h"
#include "util/log.h"

#define KEY "sbxfs-envd-test-key-0123456789"

struct api *api;
struct envdc *ec;
struct sbx *box;
struct envdc_target tg;
static struct sbxd *srv;
static char base[64], root[PATH_MAX / 2];

static void quiet(void *ctx, enum sbxd_log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

void envdfix_up(bool procs)
{
	static struct envd_backend be;
	struct sbxd_config cfg = { .listen_fd = -1, .api_key = KEY, .log = quiet };
	struct api_config ac = { .url = base, .api_key = KEY, .deadline_ms = 10000 };
	struct envdc_config ec_cfg = { .sandbox_url = base, .deadline_ms = 5000 };
	struct api_error ae;
	char *err = NULL, p[PATH_MAX];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_open("stderr", LOG_LVL_ERROR);
	snprintf(root, sizeof(root), "/tmp/sbxfs-envdc-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/home", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/home/user", root);
	mkdir(p, 0755);
	srv = sbxd_start(&cfg, &err);
	cr_assert_not_null(srv, "%s", err ? err : "?");
	testrt_backend(&be, root, procs);
	envd_set_backend(sbxd_envd(srv), &be);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", sbxd_port(srv));
	api = api_new(&ac, &err);
	ec = envdc_new(&ec_cfg, &err);
	cr_assert(api && ec);
	cr_assert_eq(api_get(api, "nope", &box, &ae), -ENOENT);
	cr_assert_eq(api_create(api, "base", 300, NULL, &box, &ae), 0, "%s", ae.message);
	tg = (struct envdc_target){ box->id, box->creds.envd_access_token, NULL };
	cr_assert_str_neq(tg.token, "");
}

void envdfix_down(void)
{
	char cmd[PATH_MAX];

	sbx_unref(box);
	envdc_free(ec);
	api_free(api);
	sbxd_stop(srv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	(void)!system(cmd);
	scrub_reset();
	log_close();
	curl_global_cleanup();
}
