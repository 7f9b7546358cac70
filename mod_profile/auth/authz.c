/* `Require profile-role <role>…` (any of the roles) and `Require profile-scope <scope>…`
 * (every scope) for locations with `AuthType Profile`. Names are checked when the
 * configuration is read, so a typo fails `apachectl -t`. */
#include <apr_strings.h>
#include <http_core.h>
#include <string.h>

#include "auth/authn.h"

/* The principal of a request that `AuthType Profile` authenticated; NULL otherwise. */
static const profile_principal_t *principal_of(request_rec *r)
{
    const char *type = ap_auth_type(r);
    const profile_principal_t *p = NULL;
    profile_authn_failure_t why;

    if (!type || strcasecmp(type, PROFILE_AUTH_TYPE))
        return NULL;
    return profile_authenticate(r, &p, &why) == OK ? p : NULL;
}

/* The principal to judge, or NULL with *denied set to the answer without one. */
static const profile_principal_t *judged(request_rec *r, authz_status *denied)
{
    const profile_principal_t *p;
    *denied = AUTHZ_DENIED_NO_USER;
    if (!r->user)
        return NULL;
    *denied = AUTHZ_DENIED;
    if (!(p = principal_of(r)))
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(10660)
                      "Require profile-role/profile-scope needs AuthType Profile");
    return p;
}

static authz_status role_check(request_rec *r, const char *require_line, const void *parsed)
{
    authz_status denied;
    const profile_principal_t *p = judged(r, &denied);
    (void)require_line;
    if (!p)
        return denied;
    return (*(const unsigned *)parsed & (1u << p->role)) ? AUTHZ_GRANTED : AUTHZ_DENIED;
}

static const char *role_parse(cmd_parms *cmd, const char *require_line, const void **parsed)
{
    unsigned *roles = apr_pcalloc(cmd->pool, sizeof(*roles));
    const char *w, *t = require_line;
    while (*(w = ap_getword_conf(cmd->temp_pool, &t))) {
        profile_role_t role = profile_role_parse(w);
        if (role == PROFILE_ROLE_NONE)
            return apr_psprintf(cmd->pool, "Require profile-role: unknown role '%s' "
                                            "(admin, user, readonly)", w);
        *roles |= 1u << role;
    }
    if (!*roles)
        return "Require profile-role: needs at least one role (admin, user, readonly)";
    *parsed = roles;
    return NULL;
}

static authz_status scope_check(request_rec *r, const char *require_line, const void *parsed)
{
    authz_status denied;
    const profile_principal_t *p = judged(r, &denied);
    (void)require_line;
    if (!p)
        return denied;
    return profile_scopes_cover(p->scopes, *(const unsigned *)parsed) ? AUTHZ_GRANTED
                                                                       : AUTHZ_DENIED;
}

static const char *scope_parse(cmd_parms *cmd, const char *require_line, const void **parsed)
{
    unsigned *scopes = apr_pcalloc(cmd->pool, sizeof(*scopes));
    const char *w, *t = require_line;
    while (*(w = ap_getword_conf(cmd->temp_pool, &t))) {
        unsigned bit = profile_scope_bit(w);
        if (!bit)
            return apr_psprintf(cmd->pool, "Require profile-scope: unknown scope '%s' "
                                            "(profiles:read, profiles:write, sessions:read, "
                                            "sessions:write, comments:read, cache:admin, admin)",
                                w);
        *scopes |= bit;
    }
    if (!*scopes)
        return "Require profile-scope: needs at least one scope";
    *parsed = scopes;
    return NULL;
}

const authz_provider profile_authz_role_provider = { role_check, role_parse };
const authz_provider profile_authz_scope_provider = { scope_check, scope_parse };
