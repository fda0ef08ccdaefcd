/* The fixture of the envd client's tests: sbxd in-process on a loopback
 * port, its envd served from a temporary root by the tests' stand-in
 * runtime (tests/sbxd/testrt.c), and one sandbox created through the
 * API, whose envd the client ec reaches as tg. */
#ifndef SBXFS_TESTS_ENVDFIX_H
#define SBXFS_TESTS_ENVDFIX_H

#include <stdbool.h>

#include "api/api.h"
#include "envd/client.h"

extern struct api *api;
extern struct envdc *ec;
extern struct sbx *box;
extern struct envdc_target tg;

/* Starts it all (Criterion asserts on failure); procs: the runtime runs
 * processes too. */
void envdfix_up(bool procs);
/* Stops it and removes the root. */
void envdfix_down(void);

#endif
