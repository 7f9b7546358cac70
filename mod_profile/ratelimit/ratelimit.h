/* Rate limiting inside httpd: policies from `ProfileRateLimit`, decided in the fixups hook
 * (after authentication, before any handler) by the shm table or Redis, answered with 429 and
 * the draft-ietf-httpapi-ratelimit-headers-10 headers. */
#ifndef PROFILE_RATELIMIT_H
#define PROFILE_RATELIMIT_H

#include "profile.h"
#include "ratelimit/gcra.h"

typedef enum {
    PROFILE_RL_BY_KEY,         /* the API key id (static keys: their name); unauthenticated: IP */
    PROFILE_RL_BY_USER,        /* the user id (keys: their owner); unauthenticated: IP */
    PROFILE_RL_BY_IP,          /* r->useragent_ip */
    PROFILE_RL_BY_HEADER,      /* the value of a request header (absent: "-") */
    PROFILE_RL_BY_ROUTE        /* the request path (one counter per path, all clients) */
} profile_rl_by_t;

typedef struct {
    const char *name;          /* 1..32 of [A-Za-z0-9_.-] */
    int requests;              /* 1..1000000 */
    int window_s;              /* 1..86400 */
    int burst;                 /* 1..1000000; default = requests */
    profile_rl_by_t by;        /* default: key */
    const char *header;        /* for BY_HEADER */
} profile_rl_policy_t;

typedef enum { PROFILE_RL_SHM = 0, PROFILE_RL_REDIS } profile_rl_backend_t;
typedef enum { PROFILE_RL_FAIL_LOCAL = 0, PROFILE_RL_FAIL_OPEN, PROFILE_RL_FAIL_CLOSED }
    profile_rl_on_failure_t;

/* One decision of a backend: 0 with *out set, -1 when the backend failed. */
typedef struct {
    const char *policy;        /* name */
    const char *value;         /* dimension value */
} profile_rl_subject_t;

/* fixups hook. */
int profile_ratelimit_fixups(request_rec *r);

#endif
