/* Server and directory configuration: the directive table, create/merge and getters.
 * Every field starts unset (PROFILE_UNSET or NULL) so merges can tell "not configured"
 * from "configured to the default"; defaults are applied only in the getters below. */
#ifndef PROFILE_CONFIG_H
#define PROFILE_CONFIG_H

#include "profile.h"
#include "config/parse.h"
#include "config/auth_config.h"
#include "config/ratelimit_config.h"
#include "config/profile_config.h"
#include "config/ws_config.h"

#define PROFILE_UNSET (-1)

#define PROFILE_DEFAULT_DB_POOL_MIN   1
#define PROFILE_DEFAULT_DB_POOL_MAX   10
#define PROFILE_DEFAULT_DB_TIMEOUT_S  5
#define PROFILE_DEFAULT_MAX_BODY      (64 * 1024)

typedef struct profile_db_pool_t profile_db_pool_t;

typedef struct {
    const char *database;      /* libpq conninfo, NULL when unset */
    int db_pool_min;
    int db_pool_max;
    int db_timeout_s;          /* connect, statement and pool-wait timeout */
    const char *redis_url;     /* as written, NULL when unset */
    const profile_redis_target_t *redis; /* parsed redis_url, NULL when unset */
    const char *sidecar_url;   /* NULL when unset */
    profile_auth_config_t auth;
    profile_rl_server_config_t rl;
    profile_profiles_config_t profiles;
    profile_ws_server_config_t ws;
    profile_db_pool_t *db_pool;/* per-process pool, made in child_init */
} profile_server_config_t;

typedef struct {
    int engine;                /* 1 on, 0 off */
    apr_off_t max_body;        /* bytes */
    profile_rl_dir_config_t rl;
    profile_ws_dir_config_t ws;
} profile_dir_config_t;

extern const command_rec profile_directives[];

void *profile_create_server_config(apr_pool_t *p, server_rec *s);
void *profile_merge_server_config(apr_pool_t *p, void *base, void *add);
void *profile_create_dir_config(apr_pool_t *p, char *dir);
void *profile_merge_dir_config(apr_pool_t *p, void *base, void *add);

profile_server_config_t *profile_server_config(const server_rec *s);

/* "<Directive>: why" — the error a directive handler returns. */
const char *profile_directive_fail(cmd_parms *cmd, const char *why);
/* Sets *field to arg, an integer in [min, max], or returns the directive's error. */
const char *profile_directive_int(cmd_parms *cmd, const char *arg, long min, long max,
                                  int *field);
/* Reads a regular file of at most max bytes (path relative to ServerRoot) into *data (NUL
 * terminated, allocated from cmd->pool); NULL, or the directive's error. */
const char *profile_directive_read_file(cmd_parms *cmd, const char *arg, apr_size_t max,
                                        unsigned char **data, apr_size_t *len);
/* The same for a secret: trailing line breaks are not part of it. */
const char *profile_directive_read_secret(cmd_parms *cmd, const char *arg, apr_size_t max,
                                          unsigned char **data, apr_size_t *len);
profile_dir_config_t *profile_dir_config(const request_rec *r);

/* Getters: the one place where defaults are applied. */
int profile_engine_enabled(const profile_dir_config_t *d);
apr_off_t profile_max_body(const profile_dir_config_t *d);
int profile_db_pool_min(const profile_server_config_t *s);
int profile_db_pool_max(const profile_server_config_t *s);
int profile_db_timeout_s(const profile_server_config_t *s);

#endif
