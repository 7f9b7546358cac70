/* Scope and role names; see principal.h. */
#include <apr_strings.h>
#include <string.h>

#include "auth/principal.h"

static const struct {
    const char *name;
    unsigned bit;
} scope_table[] = {
    { "profiles:read", PROFILE_SCOPE_PROFILES_READ },
    { "profiles:write", PROFILE_SCOPE_PROFILES_WRITE },
    { "sessions:read", PROFILE_SCOPE_SESSIONS_READ },
    { "sessions:write", PROFILE_SCOPE_SESSIONS_WRITE },
    { "comments:read", PROFILE_SCOPE_COMMENTS_READ },
    { "cache:admin", PROFILE_SCOPE_CACHE_ADMIN },
    { "admin", PROFILE_SCOPE_ADMIN },
};

#define SCOPE_COUNT (sizeof(scope_table) / sizeof(scope_table[0]))

unsigned profile_scope_bit(const char *name)
{
    apr_size_t i;
    if (!name)
        return 0;
    for (i = 0; i < SCOPE_COUNT; i++)
        if (strcmp(scope_table[i].name, name) == 0)
            return scope_table[i].bit;
    return 0;
}

const char *profile_scope_name(unsigned bit)
{
    apr_size_t i;
    for (i = 0; i < SCOPE_COUNT; i++)
        if (scope_table[i].bit == bit)
            return scope_table[i].name;
    return NULL;
}

unsigned profile_scopes_parse(apr_pool_t *p, const char *list, const char **unknown)
{
    static const char seps[] = " ,\t";
    unsigned bits = 0;
    const char *s = list ? list : "";

    if (unknown)
        *unknown = NULL;
    while (*s) {
        apr_size_t n;
        unsigned bit;
        const char *name;

        s += strspn(s, seps);
        n = strcspn(s, seps);
        if (n == 0)
            break;
        name = apr_pstrmemdup(p, s, n);
        bit = profile_scope_bit(name);
        if (bit)
            bits |= bit;
        else if (unknown && !*unknown)
            *unknown = name;
        s += n;
    }
    return bits;
}

const char **profile_scopes_names(apr_pool_t *p, unsigned scopes, int *n)
{
    const char **names = apr_pcalloc(p, (SCOPE_COUNT + 1) * sizeof(*names));
    apr_size_t i;
    int count = 0;

    for (i = 0; i < SCOPE_COUNT; i++)
        if (scopes & scope_table[i].bit)
            names[count++] = scope_table[i].name;
    if (n)
        *n = count;
    return names;
}

unsigned profile_role_scopes(profile_role_t role)
{
    switch (role) {
    case PROFILE_ROLE_ADMIN:
        return PROFILE_SCOPE_ALL;
    case PROFILE_ROLE_USER:
        return PROFILE_SCOPE_PROFILES_READ | PROFILE_SCOPE_PROFILES_WRITE
               | PROFILE_SCOPE_SESSIONS_READ | PROFILE_SCOPE_SESSIONS_WRITE
               | PROFILE_SCOPE_COMMENTS_READ;
    case PROFILE_ROLE_READONLY:
        return PROFILE_SCOPE_PROFILES_READ | PROFILE_SCOPE_SESSIONS_READ
               | PROFILE_SCOPE_COMMENTS_READ;
    default:
        return 0;
    }
}

profile_role_t profile_role_parse(const char *name)
{
    if (!name)
        return PROFILE_ROLE_NONE;
    if (strcmp(name, "admin") == 0)
        return PROFILE_ROLE_ADMIN;
    if (strcmp(name, "user") == 0)
        return PROFILE_ROLE_USER;
    if (strcmp(name, "readonly") == 0)
        return PROFILE_ROLE_READONLY;
    return PROFILE_ROLE_NONE;
}

const char *profile_role_name(profile_role_t role)
{
    switch (role) {
    case PROFILE_ROLE_ADMIN:
        return "admin";
    case PROFILE_ROLE_USER:
        return "user";
    case PROFILE_ROLE_READONLY:
        return "readonly";
    default:
        return NULL;
    }
}

int profile_scopes_cover(unsigned granted, unsigned needed)
{
    if (granted & PROFILE_SCOPE_ADMIN)
        return 1;
    return (granted & needed) == needed;
}
