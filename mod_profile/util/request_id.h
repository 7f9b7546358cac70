/* Request ids: a sane incoming X-Request-ID is kept, anything else replaced. */
#ifndef PROFILE_REQUEST_ID_H
#define PROFILE_REQUEST_ID_H

#include <apr_pools.h>

#define PROFILE_REQUEST_ID_HEADER "X-Request-ID"
#define PROFILE_REQUEST_ID_MAX 128

/* 1..PROFILE_REQUEST_ID_MAX characters of [A-Za-z0-9._:-]. */
int profile_request_id_valid(const char *id);

/* 32 lower-case hex characters from random bytes. */
const char *profile_request_id_generate(apr_pool_t *p);

#endif
