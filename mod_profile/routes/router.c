/* Route matching; see router.h. */
#include <apr_strings.h>
#include <httpd.h>
#include <string.h>

#include "routes/router.h"

const char *profile_route_path(const char *uri)
{
    apr_size_t n = sizeof(PROFILE_API_PREFIX) - 1;
    if (!uri || *uri != '/')
        return NULL;
    if (strncmp(uri, PROFILE_API_PREFIX, n) == 0 && (uri[n] == '/' || uri[n] == '\0'))
        return uri[n] ? uri + n : "/";
    return uri;
}

/* Matches one "/a/{x}/b" pattern against path; captures go to params when non-NULL. */
static int pattern_matches(apr_pool_t *p, const char *pattern, const char *path,
                           apr_table_t *params)
{
    int captured = 0;
    while (*pattern && *path) {
        const char *pend, *send;
        if (*pattern != '/' || *path != '/')
            return 0;
        pattern++;
        path++;
        pend = pattern + strcspn(pattern, "/");
        send = path + strcspn(path, "/");
        if (*pattern == '{') {
            apr_size_t len = (apr_size_t)(send - path);
            if (len == 0 || len > PROFILE_MAX_PARAM_LEN || captured == PROFILE_MAX_PATH_PARAMS)
                return 0;
            if (params)
                apr_table_setn(params, apr_pstrmemdup(p, pattern + 1, (apr_size_t)(pend - pattern) - 2),
                               apr_pstrmemdup(p, path, len));
            captured++;
        }
        else if (pend - pattern != send - path
                 || strncmp(pattern, path, (apr_size_t)(pend - pattern)) != 0) {
            return 0;
        }
        pattern = pend;
        path = send;
    }
    return *pattern == '\0' && *path == '\0';
}

profile_match_result_t profile_route_match(apr_pool_t *p, const profile_route_t *routes, int n,
                                           int method_number, const char *path,
                                           profile_match_t *out)
{
    int i;

    memset(out, 0, sizeof(*out));
    out->route_index = n;
    for (i = 0; i < n; i++) {
        if (!pattern_matches(p, routes[i].pattern, path, NULL))
            continue;
        out->allowed |= AP_METHOD_BIT << routes[i].method;
        if (routes[i].method == method_number && !out->route) {
            out->route = &routes[i];
            out->route_index = i;
        }
    }
    if (out->route) {
        out->params = apr_table_make(p, PROFILE_MAX_PATH_PARAMS);
        pattern_matches(p, out->route->pattern, path, out->params);
        return PROFILE_MATCH_FOUND;
    }
    if (out->allowed) {
        out->allowed |= AP_METHOD_BIT << M_OPTIONS;
        return PROFILE_MATCH_BAD_METHOD;
    }
    return PROFILE_MATCH_NO_PATH;
}

/* The methods routes use, in the order Allow lists them. */
static const struct { int number; const char *name; } methods[] = {
    { M_GET, "GET" }, { M_POST, "POST" }, { M_PUT, "PUT" },
    { M_PATCH, "PATCH" }, { M_DELETE, "DELETE" }, { M_OPTIONS, "OPTIONS" },
};
#define METHOD_COUNT (sizeof(methods) / sizeof(methods[0]))

const char *profile_method_name(int method_number)
{
    apr_size_t i;
    for (i = 0; i < METHOD_COUNT; i++)
        if (methods[i].number == method_number)
            return methods[i].name;
    return "UNKNOWN";
}

const char *profile_allow_header(apr_pool_t *p, apr_int64_t allowed)
{
    const char *out = NULL;
    apr_size_t i;
    for (i = 0; i < METHOD_COUNT; i++) {
        const char *name = methods[i].number == M_GET ? "GET, HEAD" : methods[i].name;
        if (allowed & (AP_METHOD_BIT << methods[i].number))
            out = out ? apr_pstrcat(p, out, ", ", name, NULL) : name;
    }
    return out ? out : "";
}
