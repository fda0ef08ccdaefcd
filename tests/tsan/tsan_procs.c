/* ThreadSanitizer driver for MOUNT/<sandbox>/procs/'s store: six threads
 * each make slots, set them up, start processes (the tests' fork/exec
 * stand-in runtime behind an in-process sbxd), feed stdin, read output
 * and status while it grows, wait for the exit and remove the slots,
 * while another lists the names; then the table is freed with a process
 * still attached.  Exits non-zero on a wrong result; TSan reports races. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <curl/curl.h>

#include "api/api.h"
#include "cache/dircache.h"
#include "envd/client.h"
#include "http/server.h"
#include "store/procs.h"
#include "testrt.h"
#include "util/log.h"

#define KEY "tsan-procs-key-0123456789"
#define THREADS 6
#define ROUNDS 5

static struct files fl;
static struct proctab *pt;
static char id[64], root[] = "/tmp/sbxfs-tsan-procs-XXXXXX";
static int failed, stop_listing;

static void check(int err, const char *what)
{
	if (err) {
		fprintf(stderr, "tsan_procs: %s: %s\n", what, strerror(-err));
		__atomic_store_n(&failed, 1, __ATOMIC_SEQ_CST);
	}
}

static void *worker(void *arg)
{
	long t = (long)arg;
	char name[32], buf[256], *text;
	size_t len;
	int code;

	for (int i = 0; i < ROUNDS; i++) {
		snprintf(name, sizeof(name), "w%ld-%d", t, i);
		check(proctab_mkdir(pt, id, name), "mkdir");
		check(proctab_set(pt, id, name, PROCS_ENV, "A=1\nB=2\n", 8), "env");
		check(proctab_start(pt, id, name, "cat; echo $A$B", 14), "start");
		check(proctab_input(pt, id, name, "hello ", 6), "input");
		for (int k = 0; k < 3; k++) {
			check(proctab_render(pt, id, name, PROCS_V_STATUS, true, &text, &len) < 0,
			      "status");
			free(text);
			(void)proctab_out_read(pt, id, name, PROCS_STDOUT, buf, sizeof(buf), 0);
		}
		check(proctab_close_stdin(pt, id, name), "close_stdin");
		check(proctab_wait(pt, id, name, NULL, &code), "wait");
		check(code == 0 ? 0 : -EIO, "exit code");
		memset(buf, 0, sizeof(buf));
		check(proctab_out_read(pt, id, name, PROCS_STDOUT, buf, sizeof(buf), 0) == 9 &&
		      !strcmp(buf, "hello 12\n") ? 0 : -EIO, "output");
		check(proctab_rmdir(pt, id, name), "rmdir");
	}
	return NULL;
}

static void *lister(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_listing, __ATOMIC_SEQ_CST)) {
		char **v;
		size_t n;

		if (proctab_names(pt, id, true, &v, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				free(v[i]);
			free(v);
		}
		usleep(2000);
	}
	return NULL;
}

int main(void)
{
	static struct envd_backend be;
	struct sbxd_config cfg = { .listen_fd = -1, .api_key = KEY, .log_level = SBXD_LOG_ERROR };
	char base[64], *err = NULL, p[128];
	struct api_config ac = { .url = base, .api_key = KEY };
	struct envdc_config ec = { .sandbox_url = base };
	struct proctab_config pc = { .user = "user", .output_max = 4096, .list_ttl_ms = 5 };
	pthread_t t[THREADS], l;
	struct api_error ae;
	struct sbxd *srv;
	struct sbx *s;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_open("stderr", LOG_LVL_ERROR);
	if (!mkdtemp(root) || (srv = sbxd_start(&cfg, &err)) == NULL) {
		fprintf(stderr, "tsan_procs: setup: %s\n", err ? err : strerror(errno));
		return 1;
	}
	snprintf(p, sizeof(p), "%s/home", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/home/user", root);
	mkdir(p, 0755);
	testrt_backend(&be, root, true);
	envd_set_backend(sbxd_envd(srv), &be);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", sbxd_port(srv));
	fl.api = api_new(&ac, &err);
	fl.envd = envdc_new(&ec, &err);
	fl.dirs = dircache_new(1000, 4);
	files_init(&fl);
	pc.envd = fl.envd;
	pc.files = &fl;
	if (!fl.api || !fl.envd || !fl.dirs || !(pt = proctab_new(&pc)) ||
	    api_create(fl.api, "base", 300, NULL, &s, &ae)) {
		fprintf(stderr, "tsan_procs: setup failed\n");
		return 1;
	}
	snprintf(id, sizeof(id), "%s", s->id);
	sbx_unref(s);
	pthread_create(&l, NULL, lister, NULL);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	__atomic_store_n(&stop_listing, 1, __ATOMIC_SEQ_CST);
	pthread_join(l, NULL);
	/* Freed with a process attached: its stream ends, the process not. */
	check(proctab_mkdir(pt, id, "last"), "mkdir last");
	check(proctab_start(pt, id, "last", "sleep 30", 8), "start last");
	proctab_free(pt);
	files_fini(&fl);
	dircache_free(fl.dirs);
	envdc_free(fl.envd);
	api_free(fl.api);
	sbxd_stop(srv);
	snprintf(p, sizeof(p), "rm -rf '%s'", root);
	(void)!system(p);
	log_close();
	curl_global_cleanup();
	return failed;
}
