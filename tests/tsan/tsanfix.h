/* The setup the store drivers share: curl and sbxfs's log initialised, an
 * in-process sbxd on a free loopback port (runtime NULL: records only),
 * and a REST client of it. */
#ifndef SBXFS_TEST_TSANFIX_H
#define SBXFS_TEST_TSANFIX_H

#include "api/api.h"
#include "sbxd.h"

struct tsanfix {
	struct sbxd *srv;
	struct api *api;
	char base[64];          /* http://127.0.0.1:PORT */
};

/* 0, or -1 with the reason on stderr. */
int tsanfix_start(struct tsanfix *t, const char *key, const char *runtime);
void tsanfix_stop(struct tsanfix *t);

#endif
