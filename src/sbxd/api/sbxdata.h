/* The routes that report on a sandbox rather than change it: metrics and
 * logs (v1 and v2).  Private to api/. */
#ifndef SBXD_SBXDATA_H
#define SBXD_SBXDATA_H

#include "api/handlers.h"

void h_metrics(struct api_ctx *s, const struct request *rq, struct reply *rp);
void h_logs_v1(struct api_ctx *s, const struct request *rq, struct reply *rp);
void h_logs_v2(struct api_ctx *s, const struct request *rq, struct reply *rp);

#endif
