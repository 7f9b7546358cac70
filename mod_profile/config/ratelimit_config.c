/* Rate-limit settings (config/ratelimit_config.h): init/merge, getters and the directive
 * handlers; each error names the directive and what it accepts. */
#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

#include "config/config.h"
#include "auth/principal.h"

#define DEFAULT_TABLE_SIZE       65536
#define DEFAULT_REDIS_TIMEOUT_MS 50
#define DEFAULT_REDIS_POOL       8
#define MAX_POLICY_NAME          32
#define MAX_HEADER_NAME          64

#define OR_DEFAULT(v, def) ((v) == PROFILE_UNSET ? (def) : (v))
#define MERGE_INT(f) out->f = add->f != PROFILE_UNSET ? add->f : base->f

void profile_rl_dir_init(profile_rl_dir_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->headers = PROFILE_UNSET;
}

static const profile_rl_policy_t *find_policy(const apr_array_header_t *a, const char *name)
{
    int i;
    for (i = 0; a && i < a->nelts; i++)
        if (!strcmp(APR_ARRAY_IDX(a, i, profile_rl_policy_t).name, name))
            return &APR_ARRAY_IDX(a, i, profile_rl_policy_t);
    return NULL;
}

/* base's policies in order, each replaced by add's policy of the same name; then add's new ones. */
static apr_array_header_t *merge_policies(apr_pool_t *p, apr_array_header_t *base,
                                          apr_array_header_t *add)
{
    apr_array_header_t *out;
    int i;
    if (!base || !base->nelts)
        return add;
    if (!add || !add->nelts)
        return base;
    out = apr_array_make(p, base->nelts + add->nelts, sizeof(profile_rl_policy_t));
    for (i = 0; i < base->nelts; i++) {
        const profile_rl_policy_t *b = &APR_ARRAY_IDX(base, i, profile_rl_policy_t);
        const profile_rl_policy_t *a = find_policy(add, b->name);
        *(profile_rl_policy_t *)apr_array_push(out) = a ? *a : *b;
    }
    for (i = 0; i < add->nelts; i++) {
        const profile_rl_policy_t *a = &APR_ARRAY_IDX(add, i, profile_rl_policy_t);
        if (!find_policy(base, a->name))
            *(profile_rl_policy_t *)apr_array_push(out) = *a;
    }
    return out;
}

void profile_rl_dir_merge(apr_pool_t *p, const profile_rl_dir_config_t *base,
                          const profile_rl_dir_config_t *add, profile_rl_dir_config_t *out)
{
    const profile_rl_dir_config_t *exempt = add->exempt_set ? add : base;
    out->policies = merge_policies(p, base->policies, add->policies);
    MERGE_INT(headers);
    out->exempt_roles = exempt->exempt_roles;
    out->exempt_scopes = exempt->exempt_scopes;
    out->exempt_set = exempt->exempt_set;
}

void profile_rl_server_init(profile_rl_server_config_t *c)
{
    c->backend = PROFILE_UNSET;
    c->on_failure = PROFILE_UNSET;
    c->table_size = PROFILE_UNSET;
    c->redis_timeout_ms = PROFILE_UNSET;
    c->redis_pool_max = PROFILE_UNSET;
}

void profile_rl_server_merge(const profile_rl_server_config_t *base,
                             const profile_rl_server_config_t *add,
                             profile_rl_server_config_t *out)
{
    MERGE_INT(backend);
    MERGE_INT(on_failure);
    MERGE_INT(table_size);
    MERGE_INT(redis_timeout_ms);
    MERGE_INT(redis_pool_max);
}

int profile_rl_headers_on(const profile_rl_dir_config_t *c)
{
    return c->headers != 0; /* unset means on */
}

profile_rl_backend_t profile_rl_backend(const profile_rl_server_config_t *c)
{
    return (profile_rl_backend_t)OR_DEFAULT(c->backend, PROFILE_RL_SHM);
}

profile_rl_on_failure_t profile_rl_on_failure(const profile_rl_server_config_t *c)
{
    return (profile_rl_on_failure_t)OR_DEFAULT(c->on_failure, PROFILE_RL_FAIL_LOCAL);
}

int profile_rl_table_size_of(const profile_rl_server_config_t *c)
{
    return OR_DEFAULT(c->table_size, DEFAULT_TABLE_SIZE);
}

int profile_rl_redis_timeout_ms(const profile_rl_server_config_t *c)
{
    return OR_DEFAULT(c->redis_timeout_ms, DEFAULT_REDIS_TIMEOUT_MS);
}

int profile_rl_redis_pool_max(const profile_rl_server_config_t *c)
{
    return OR_DEFAULT(c->redis_pool_max, DEFAULT_REDIS_POOL);
}

/* ---- directive handlers ---- */

static profile_rl_server_config_t *server_conf(cmd_parms *cmd)
{
    return &profile_server_config(cmd->server)->rl;
}

static int valid_policy_name(const char *s)
{
    apr_size_t n = 0;
    for (; *s; s++, n++)
        if (!apr_isalnum(*s) && *s != '_' && *s != '.' && *s != '-')
            return 0;
    return n > 0 && n <= MAX_POLICY_NAME;
}

/* An HTTP field name (RFC 9110 token). */
static int valid_header_name(const char *s)
{
    apr_size_t n = 0;
    for (; *s; s++, n++)
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return 0;
    return n > 0 && n <= MAX_HEADER_NAME;
}

static const char *parse_by(cmd_parms *cmd, const char *v, profile_rl_policy_t *pol)
{
    if (!strcasecmp(v, "key"))
        pol->by = PROFILE_RL_BY_KEY;
    else if (!strcasecmp(v, "user"))
        pol->by = PROFILE_RL_BY_USER;
    else if (!strcasecmp(v, "ip"))
        pol->by = PROFILE_RL_BY_IP;
    else if (!strcasecmp(v, "route"))
        pol->by = PROFILE_RL_BY_ROUTE;
    else if (!strncasecmp(v, "header:", 7) && valid_header_name(v + 7)) {
        pol->by = PROFILE_RL_BY_HEADER;
        pol->header = v + 7;
    }
    else
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "by= must be key, user, ip, route or "
                                      "header:<Header-Name>, got '%s'", v));
    return NULL;
}

const char *profile_set_rate_limit(cmd_parms *cmd, void *d, int argc, char *const argv[])
{
    profile_rl_dir_config_t *c = &((profile_dir_config_t *)d)->rl;
    profile_rl_policy_t pol;
    int burst_set = 0, by_set = 0, i;
    const char *err;
    long v;

    if (argc < 3 || argc > 5)
        return profile_directive_fail(cmd, "needs <name> <requests> <seconds> [burst=N] "
                         "[by=key|user|ip|header:NAME|route]");
    memset(&pol, 0, sizeof(pol));
    if (!valid_policy_name(argv[0]))
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "name must be 1..%d of [A-Za-z0-9_.-], got '%s'",
                                      MAX_POLICY_NAME, argv[0]));
    pol.name = argv[0];
    if ((err = profile_parse_int(cmd->pool, argv[1], 1, 1000000, &v)))
        return profile_directive_fail(cmd, apr_pstrcat(cmd->pool, "requests ", err, NULL));
    pol.requests = (int)v;
    if ((err = profile_parse_int(cmd->pool, argv[2], 1, 86400, &v)))
        return profile_directive_fail(cmd, apr_pstrcat(cmd->pool, "seconds ", err, NULL));
    pol.window_s = (int)v;
    pol.burst = pol.requests;
    pol.by = PROFILE_RL_BY_KEY;
    for (i = 3; i < argc; i++) {
        if (!strncasecmp(argv[i], "burst=", 6) && !burst_set) {
            if ((err = profile_parse_int(cmd->pool, argv[i] + 6, 1, 1000000, &v)))
                return profile_directive_fail(cmd, apr_pstrcat(cmd->pool, "burst ", err, NULL));
            pol.burst = (int)v;
            burst_set = 1;
        }
        else if (!strncasecmp(argv[i], "by=", 3) && !by_set) {
            if ((err = parse_by(cmd, argv[i] + 3, &pol)))
                return err;
            by_set = 1;
        }
        else
            return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "expected burst=N or "
                                          "by=key|user|ip|header:NAME|route (each once), got '%s'",
                                          argv[i]));
    }
    if (find_policy(c->policies, pol.name))
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "the name '%s' is used twice in one context",
                                      pol.name));
    if (!c->policies)
        c->policies = apr_array_make(cmd->pool, 2, sizeof(profile_rl_policy_t));
    *(profile_rl_policy_t *)apr_array_push(c->policies) = pol;
    return NULL;
}

const char *profile_set_rate_limit_headers(cmd_parms *cmd, void *d, int on)
{
    (void)cmd;
    ((profile_dir_config_t *)d)->rl.headers = on;
    return NULL;
}

/* role <role>… | scope <scope>… | none; several lines of one context add up. */
const char *profile_set_rate_limit_exempt(cmd_parms *cmd, void *d, int argc, char *const argv[])
{
    profile_rl_dir_config_t *c = &((profile_dir_config_t *)d)->rl;
    int i, is_role;

    if (argc == 1 && !strcasecmp(argv[0], "none")) {
        c->exempt_roles = 0;
        c->exempt_scopes = 0;
        c->exempt_set = 1;
        return NULL;
    }
    if (argc < 2 || (strcasecmp(argv[0], "role") && strcasecmp(argv[0], "scope")))
        return profile_directive_fail(cmd, "needs role <role>..., scope <scope>... or none");
    is_role = !strcasecmp(argv[0], "role");
    for (i = 1; i < argc; i++) {
        if (is_role) {
            profile_role_t role = profile_role_parse(argv[i]);
            if (role == PROFILE_ROLE_NONE)
                return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "unknown role '%s' (known: admin user "
                                              "readonly)", argv[i]));
            c->exempt_roles |= 1u << role;
        }
        else {
            unsigned bit = profile_scope_bit(argv[i]);
            if (!bit)
                return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "unknown scope '%s' (known: "
                                              "profiles:read profiles:write sessions:read "
                                              "sessions:write comments:read cache:admin admin)",
                                              argv[i]));
            c->exempt_scopes |= bit;
        }
    }
    c->exempt_set = 1;
    return NULL;
}

const char *profile_set_rate_limit_backend(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    if (!strcasecmp(arg, "shm"))
        server_conf(cmd)->backend = PROFILE_RL_SHM;
    else if (!strcasecmp(arg, "redis"))
        server_conf(cmd)->backend = PROFILE_RL_REDIS;
    else
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "must be shm or redis, got '%s'", arg));
    return NULL;
}

const char *profile_set_rate_limit_on_failure(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    if (!strcasecmp(arg, "local"))
        server_conf(cmd)->on_failure = PROFILE_RL_FAIL_LOCAL;
    else if (!strcasecmp(arg, "open"))
        server_conf(cmd)->on_failure = PROFILE_RL_FAIL_OPEN;
    else if (!strcasecmp(arg, "closed"))
        server_conf(cmd)->on_failure = PROFILE_RL_FAIL_CLOSED;
    else
        return profile_directive_fail(cmd, apr_psprintf(cmd->pool, "must be local, open or closed, got '%s'", arg));
    return NULL;
}

const char *profile_set_rate_limit_table_size(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return profile_directive_int(cmd, arg, 1024, 16777216, &server_conf(cmd)->table_size);
}

const char *profile_set_redis_timeout(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return profile_directive_int(cmd, arg, 1, 10000, &server_conf(cmd)->redis_timeout_ms);
}

const char *profile_set_redis_pool(cmd_parms *cmd, void *d, const char *arg)
{
    (void)d;
    return profile_directive_int(cmd, arg, 1, PROFILE_RL_REDIS_POOL_LIMIT,
                                 &server_conf(cmd)->redis_pool_max);
}
