/* The one route table of the API. */
#ifndef PROFILE_ROUTES_H
#define PROFILE_ROUTES_H

#include "routes/router.h"

extern const profile_route_t profile_routes[];
extern const int profile_route_count;

/* "GET /healthcheck" for metrics; index == profile_route_count names unmatched requests. */
const char *profile_route_label(apr_pool_t *p, int index);

#endif
