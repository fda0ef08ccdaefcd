/* See tsanfix.h. */
#include "tsanfix.h"

#include <stdio.h>
#include <curl/curl.h>

#include "util/log.h"

int tsanfix_start(struct tsanfix *t, const char *key, const char *runtime)
{
	struct sbxd_config cfg = { .listen_fd = -1, .api_key = key, .runtime = runtime,
				   .log_level = SBXD_LOG_ERROR };
	struct api_config ac = { .url = t->base, .api_key = key, .request_timeout_ms = 10000 };
	char *err = NULL;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_open("stderr", LOG_LVL_ERROR);
	if ((t->srv = sbxd_start(&cfg, &err)) == NULL) {
		fprintf(stderr, "sbxd_start: %s\n", err ? err : "?");
		return -1;
	}
	snprintf(t->base, sizeof(t->base), "http://127.0.0.1:%u", sbxd_port(t->srv));
	if ((t->api = api_new(&ac, &err)) == NULL) {
		fprintf(stderr, "api_new: %s\n", err ? err : "?");
		return -1;
	}
	return 0;
}

void tsanfix_stop(struct tsanfix *t)
{
	api_free(t->api);
	sbxd_stop(t->srv);
	log_close();
	curl_global_cleanup();
}
