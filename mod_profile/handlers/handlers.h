/* Endpoint handlers, one file per group. Each returns what profile_send_* returned. */
#ifndef PROFILE_HANDLERS_H
#define PROFILE_HANDLERS_H

#include "routes/request.h"

/* handlers/health.c */
int profile_handle_healthcheck(profile_request_t *pr);
int profile_handle_health_live(profile_request_t *pr);
int profile_handle_health_ready(profile_request_t *pr);

/* handlers/monitoring.c */
int profile_handle_monitoring_ping(profile_request_t *pr);
int profile_handle_monitoring_detailed(profile_request_t *pr);
int profile_handle_monitoring_metrics(profile_request_t *pr);

#endif
