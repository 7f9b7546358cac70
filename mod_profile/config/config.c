/* Directive table, create/merge of server and directory configuration, and getters. */
#include <apr_strings.h>
#include <libpq-fe.h>
#include <string.h>

#include "config/config.h"
#include "config/parse.h"

#define MERGE_INT(field) (add->field != PROFILE_UNSET ? add->field : base->field)
#define MERGE_PTR(field) (add->field ? add->field : base->field)

void *profile_create_server_config(apr_pool_t *p, server_rec *s)
{
    profile_server_config_t *c = apr_pcalloc(p, sizeof(*c));
    (void)s;
    c->db_pool_min = PROFILE_UNSET;
    c->db_pool_max = PROFILE_UNSET;
    c->db_timeout_s = PROFILE_UNSET;
    profile_auth_config_init(&c->auth);
    profile_rl_server_init(&c->rl);
    profile_profiles_config_init(&c->profiles);
    profile_ws_server_init(&c->ws);
    return c;
}

void *profile_merge_server_config(apr_pool_t *p, void *base_, void *add_)
{
    profile_server_config_t *base = base_, *add = add_, *c = apr_pcalloc(p, sizeof(*c));
    c->database = MERGE_PTR(database);
    /* min and max are set together by one directive, so they merge together. */
    c->db_pool_min = add->db_pool_max != PROFILE_UNSET ? add->db_pool_min : base->db_pool_min;
    c->db_pool_max = MERGE_INT(db_pool_max);
    c->db_timeout_s = MERGE_INT(db_timeout_s);
    c->redis_url = MERGE_PTR(redis_url);
    c->redis = add->redis_url ? add->redis : base->redis;
    c->sidecar_url = MERGE_PTR(sidecar_url);
    profile_auth_config_merge(&base->auth, &add->auth, &c->auth);
    profile_rl_server_merge(&base->rl, &add->rl, &c->rl);
    profile_profiles_config_merge(&base->profiles, &add->profiles, &c->profiles);
    profile_ws_server_merge(&base->ws, &add->ws, &c->ws);
    /* db_pool is made per process in child_init, never merged. */
    return c;
}

void *profile_create_dir_config(apr_pool_t *p, char *dir)
{
    profile_dir_config_t *c = apr_pcalloc(p, sizeof(*c));
    (void)dir;
    c->engine = PROFILE_UNSET;
    c->max_body = PROFILE_UNSET;
    profile_rl_dir_init(&c->rl);
    profile_ws_dir_init(&c->ws);
    return c;
}

void *profile_merge_dir_config(apr_pool_t *p, void *base_, void *add_)
{
    profile_dir_config_t *base = base_, *add = add_, *c = apr_pcalloc(p, sizeof(*c));
    c->engine = MERGE_INT(engine);
    c->max_body = MERGE_INT(max_body);
    profile_rl_dir_merge(p, &base->rl, &add->rl, &c->rl);
    profile_ws_dir_merge(&base->ws, &add->ws, &c->ws);
    return c;
}

profile_server_config_t *profile_server_config(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &profile_module);
}

profile_dir_config_t *profile_dir_config(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &profile_module);
}

int profile_engine_enabled(const profile_dir_config_t *d)
{
    return d->engine != 0; /* unset means On */
}

apr_off_t profile_max_body(const profile_dir_config_t *d)
{
    return d->max_body == PROFILE_UNSET ? PROFILE_DEFAULT_MAX_BODY : d->max_body;
}

int profile_db_pool_min(const profile_server_config_t *s)
{
    return s->db_pool_max == PROFILE_UNSET ? PROFILE_DEFAULT_DB_POOL_MIN : s->db_pool_min;
}

int profile_db_pool_max(const profile_server_config_t *s)
{
    return s->db_pool_max == PROFILE_UNSET ? PROFILE_DEFAULT_DB_POOL_MAX : s->db_pool_max;
}

int profile_db_timeout_s(const profile_server_config_t *s)
{
    return s->db_timeout_s == PROFILE_UNSET ? PROFILE_DEFAULT_DB_TIMEOUT_S : s->db_timeout_s;
}

/* ---- directive handlers: each error names the directive and what it accepts ---- */

const char *profile_directive_fail(cmd_parms *cmd, const char *why)
{
    return apr_pstrcat(cmd->pool, cmd->directive->directive, ": ", why, NULL);
}

const char *profile_directive_int(cmd_parms *cmd, const char *arg, long min, long max,
                                  int *field)
{
    long v;
    const char *err = profile_parse_int(cmd->pool, arg, min, max, &v);
    if (err)
        return profile_directive_fail(cmd, err);
    *field = (int)v;
    return NULL;
}

static profile_server_config_t *server_conf(cmd_parms *cmd)
{
    return profile_server_config(cmd->server);
}

static const char *set_engine(cmd_parms *cmd, void *dcfg, int on)
{
    (void)cmd;
    ((profile_dir_config_t *)dcfg)->engine = on;
    return NULL;
}

static const char *set_max_body(cmd_parms *cmd, void *dcfg, const char *arg)
{
    apr_off_t v;
    const char *err = profile_parse_size(cmd->pool, arg, 1, 16 * 1024 * 1024, &v);
    if (err)
        return profile_directive_fail(cmd, err);
    ((profile_dir_config_t *)dcfg)->max_body = v;
    return NULL;
}

static const char *set_database(cmd_parms *cmd, void *dcfg, const char *arg)
{
    PQconninfoOption *parsed;
    char *why = NULL;
    (void)dcfg;
    /* libpq's own message may quote part of the string, password included: not echoed.
     * A string without "=" is a plain database name, as libpq takes it. */
    parsed = *arg ? PQconninfoParse(arg, &why) : NULL;
    PQfreemem(why);
    if (!*arg || (!parsed && strchr(arg, '='))) {
        return profile_directive_fail(cmd, "must be a valid libpq connection string, e.g. "
                         "\"host=/run/postgresql dbname=profile\" or postgresql://host/dbname");
    }
    PQconninfoFree(parsed);
    server_conf(cmd)->database = arg;
    return NULL;
}

static const char *set_database_pool(cmd_parms *cmd, void *dcfg, const char *min_s,
                                     const char *max_s)
{
    long min, max;
    const char *err;
    (void)dcfg;
    if ((err = profile_parse_int(cmd->pool, min_s, 0, 1024, &min)))
        return profile_directive_fail(cmd, apr_pstrcat(cmd->pool, "min ", err, NULL));
    if ((err = profile_parse_int(cmd->pool, max_s, 1, 1024, &max)))
        return profile_directive_fail(cmd, apr_pstrcat(cmd->pool, "max ", err, NULL));
    if (min > max)
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "min (%ld) must not exceed max (%ld)", min, max));
    server_conf(cmd)->db_pool_min = (int)min;
    server_conf(cmd)->db_pool_max = (int)max;
    return NULL;
}

static const char *set_database_timeout(cmd_parms *cmd, void *dcfg, const char *arg)
{
    long v;
    const char *err = profile_parse_int(cmd->pool, arg, 1, 300, &v);
    (void)dcfg;
    if (err)
        return profile_directive_fail(cmd, apr_pstrcat(cmd->pool, "seconds ", err, NULL));
    server_conf(cmd)->db_timeout_s = (int)v;
    return NULL;
}

static const char *set_redis(cmd_parms *cmd, void *dcfg, const char *arg)
{
    profile_redis_target_t *t = apr_pcalloc(cmd->pool, sizeof(*t));
    const char *err = profile_parse_redis_url(cmd->pool, arg, t);
    (void)dcfg;
    if (err)
        return profile_directive_fail(cmd, err);
    server_conf(cmd)->redis_url = arg;
    server_conf(cmd)->redis = t;
    return NULL;
}

static const char *set_sidecar(cmd_parms *cmd, void *dcfg, const char *arg)
{
    const char *url;
    const char *err = profile_parse_http_url(cmd->pool, arg, &url);
    (void)dcfg;
    if (err)
        return profile_directive_fail(cmd, err);
    server_conf(cmd)->sidecar_url = url;
    return NULL;
}

const command_rec profile_directives[] = {
    AP_INIT_FLAG("ProfileEngine", set_engine, NULL, RSRC_CONF | ACCESS_CONF,
                 "On|Off: whether `SetHandler profile` serves the API here (default On)"),
    AP_INIT_TAKE1("ProfileMaxBodySize", set_max_body, NULL, RSRC_CONF | ACCESS_CONF,
                  "largest accepted request body, bytes with optional K/M suffix (default 64K)"),
    AP_INIT_TAKE1("ProfileDatabase", set_database, NULL, RSRC_CONF,
                  "libpq connection string of the PostgreSQL database"),
    AP_INIT_TAKE2("ProfileDatabasePool", set_database_pool, NULL, RSRC_CONF,
                  "<min> <max> connections per child process (default 1 10)"),
    AP_INIT_TAKE1("ProfileDatabaseTimeout", set_database_timeout, NULL, RSRC_CONF,
                  "seconds for connecting, for each statement and for a free connection (default 5)"),
    AP_INIT_TAKE1("ProfileRedis", set_redis, NULL, RSRC_CONF,
                  "redis://[:password@]host[:port][/db] or unix:///path[?db=N] (optional)"),
    AP_INIT_TAKE1("ProfileSidecar", set_sidecar, NULL, RSRC_CONF,
                  "http://host:port of the live-capture sidecar (optional)"),
    PROFILE_AUTH_DIRECTIVES,
    PROFILE_RATELIMIT_DIRECTIVES,
    PROFILE_PROFILES_DIRECTIVES,
    PROFILE_WS_DIRECTIVES,
    { NULL }
};
