/* Routing and identity of envd requests (envd_route is in envd.h). */
#ifndef SBXD_ENVD_ROUTE_H
#define SBXD_ENVD_ROUTE_H

#include "envd/envd.h"

#include <stddef.h>

/* The user a request asks for: `username=` when given, else the Basic
 * auth username (the password is ignored), else "" (the default).  0, or
 * -1 for an Authorization header that is not well-formed Basic. */
int envd_user_from(const char *authorization, const char *q_username, char *user,
		   size_t userlen);

#endif
