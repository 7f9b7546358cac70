/* Rate-limit settings: policies, headers and exemptions per directory (server-level lines land
 * in every directory's defaults), backend settings per server. Unset: PROFILE_UNSET / NULL. */
#ifndef PROFILE_RATELIMIT_CONFIG_H
#define PROFILE_RATELIMIT_CONFIG_H

#include <apr_tables.h>
#include "ratelimit/ratelimit.h"

typedef struct {
    apr_array_header_t *policies; /* of profile_rl_policy_t; merge: base's, with add's policies
                                     replacing same-named ones and new ones appended */
    int headers;               /* ProfileRateLimitHeaders on|off, default on */
    unsigned exempt_roles;     /* bit (1 << profile_role_t) per ProfileRateLimitExempt role … */
    unsigned exempt_scopes;    /* PROFILE_SCOPE_* per ProfileRateLimitExempt scope … */
    int exempt_set;            /* whether this level set exemptions (they replace, not add) */
} profile_rl_dir_config_t;

#define PROFILE_RL_REDIS_POOL_LIMIT 256 /* the largest ProfileRedisPool */

typedef struct {
    int backend;               /* ProfileRateLimitBackend shm|redis (profile_rl_backend_t), default shm */
    int on_failure;            /* ProfileRateLimitOnFailure local|open|closed, default local */
    int table_size;            /* ProfileRateLimitTableSize 1024..16777216 entries, default 65536 */
    int redis_timeout_ms;      /* ProfileRedisTimeout 1..10000 ms (connect and command), default 50 */
    int redis_pool_max;        /* ProfileRedisPool 1..256 connections per process, default 8 */
} profile_rl_server_config_t;

void profile_rl_dir_init(profile_rl_dir_config_t *c);
void profile_rl_dir_merge(apr_pool_t *p, const profile_rl_dir_config_t *base,
                          const profile_rl_dir_config_t *add, profile_rl_dir_config_t *out);
void profile_rl_server_init(profile_rl_server_config_t *c);
void profile_rl_server_merge(const profile_rl_server_config_t *base,
                             const profile_rl_server_config_t *add,
                             profile_rl_server_config_t *out);

int profile_rl_headers_on(const profile_rl_dir_config_t *c);
profile_rl_backend_t profile_rl_backend(const profile_rl_server_config_t *c);
profile_rl_on_failure_t profile_rl_on_failure(const profile_rl_server_config_t *c);
int profile_rl_table_size_of(const profile_rl_server_config_t *c);
int profile_rl_redis_timeout_ms(const profile_rl_server_config_t *c);
int profile_rl_redis_pool_max(const profile_rl_server_config_t *c);

#define PROFILE_RATELIMIT_DIRECTIVES \
    AP_INIT_TAKE_ARGV("ProfileRateLimit", profile_set_rate_limit, NULL, RSRC_CONF | ACCESS_CONF, \
        "<name> <requests> <seconds> [burst=N] [by=key|user|ip|header:NAME|route]"), \
    AP_INIT_FLAG("ProfileRateLimitHeaders", profile_set_rate_limit_headers, NULL, \
        RSRC_CONF | ACCESS_CONF, "On|Off: RateLimit and X-RateLimit-* headers (default On)"), \
    AP_INIT_TAKE_ARGV("ProfileRateLimitExempt", profile_set_rate_limit_exempt, NULL, \
        RSRC_CONF | ACCESS_CONF, "role <role>… | scope <scope>… | none: who no policy limits"), \
    AP_INIT_TAKE1("ProfileRateLimitBackend", profile_set_rate_limit_backend, NULL, RSRC_CONF, \
        "shm|redis (default shm; redis uses ProfileRedis)"), \
    AP_INIT_TAKE1("ProfileRateLimitOnFailure", profile_set_rate_limit_on_failure, NULL, RSRC_CONF, \
        "local|open|closed: decisions while Redis fails (default local)"), \
    AP_INIT_TAKE1("ProfileRateLimitTableSize", profile_set_rate_limit_table_size, NULL, RSRC_CONF, \
        "entries of the shared-memory table, 1024..16777216 (default 65536)"), \
    AP_INIT_TAKE1("ProfileRedisTimeout", profile_set_redis_timeout, NULL, RSRC_CONF, \
        "milliseconds to connect to and hear from Redis, 1..10000 (default 50)"), \
    AP_INIT_TAKE1("ProfileRedisPool", profile_set_redis_pool, NULL, RSRC_CONF, \
        "Redis connections per process, 1..256 (default 8)")

const char *profile_set_rate_limit(cmd_parms *cmd, void *d, int argc, char *const argv[]);
const char *profile_set_rate_limit_headers(cmd_parms *cmd, void *d, int on);
const char *profile_set_rate_limit_exempt(cmd_parms *cmd, void *d, int argc, char *const argv[]);
const char *profile_set_rate_limit_backend(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_rate_limit_on_failure(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_rate_limit_table_size(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_redis_timeout(cmd_parms *cmd, void *d, const char *arg);
const char *profile_set_redis_pool(cmd_parms *cmd, void *d, const char *arg);

#endif
