/* Writing JSON answers and the one error shape of the API:
 * {"error","message","details","status","timestamp","path","correlation_id"}. */
#ifndef PROFILE_RESPOND_H
#define PROFILE_RESPOND_H

#include <jansson.h>
#include "routes/request.h"

/* Sends body (reference stolen) with status; returns OK for the handler to return. */
int profile_send_json(profile_request_t *pr, int status, json_t *body);

/* Sends text, already serialised JSON of len bytes (for hot paths that format it directly). */
int profile_send_json_text(profile_request_t *pr, int status, const char *text, apr_size_t len);

/* Sends the error JSON. details may be NULL (reference stolen otherwise). */
int profile_send_error(profile_request_t *pr, int status, const char *error, json_t *details,
                       const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* 503 with Retry-After: retry_after_s, for a dependency that is down. */
int profile_send_unavailable(profile_request_t *pr, int retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "2026-11-23T10:00:00.123Z" */
const char *profile_iso8601(apr_pool_t *p, apr_time_t t);

#endif
