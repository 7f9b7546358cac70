/* Route matching: method + path pattern ("/profile/{username}") → route.
 * Pure code (APR only) so it is unit tested without httpd. */
#ifndef PROFILE_ROUTER_H
#define PROFILE_ROUTER_H

#include <apr_pools.h>
#include <apr_tables.h>

/* The least a caller must prove before the handler runs. */
typedef enum {
    PROFILE_AUTH_PUBLIC = 0,
    PROFILE_AUTH_PRINCIPAL     /* an authenticated key or user holding the route's scopes */
} profile_auth_level_t;

#define PROFILE_API_PREFIX "/api/v1"
#define PROFILE_MAX_PATH_PARAMS 4
#define PROFILE_MAX_PARAM_LEN 256

struct profile_request_t;
typedef int (*profile_handler_fn)(struct profile_request_t *pr);

typedef struct {
    int method;                /* M_GET, M_POST, … (httpd method numbers) */
    const char *pattern;       /* segments, "{name}" captures one segment */
    profile_handler_fn handler;
    profile_auth_level_t auth;
    unsigned scopes;           /* PROFILE_SCOPE_* bits the principal needs (auth/principal.h) */
} profile_route_t;

typedef enum {
    PROFILE_MATCH_FOUND,
    PROFILE_MATCH_NO_PATH,     /* 404 */
    PROFILE_MATCH_BAD_METHOD   /* 405: the path exists with other methods */
} profile_match_result_t;

typedef struct {
    const profile_route_t *route;
    int route_index;
    apr_table_t *params;       /* captured segments, by name */
    apr_int64_t allowed;       /* bit mask (1 << M_x) of methods the path accepts */
} profile_match_t;

/* Strips an optional "/api/v1" prefix; returns the path routes are matched against,
 * or NULL when the path is neither under the prefix nor a bare route path. */
const char *profile_route_path(const char *uri);

/* Matches method_number and path against the n routes (httpd numbers HEAD as M_GET). */
profile_match_result_t profile_route_match(apr_pool_t *p, const profile_route_t *routes, int n,
                                           int method_number, const char *path,
                                           profile_match_t *out);

/* "GET" for M_GET: a fixed name for every method routes use. */
const char *profile_method_name(int method_number);

/* "GET, HEAD, OPTIONS"-style Allow header value for a method mask (GET implies HEAD). */
const char *profile_allow_header(apr_pool_t *p, apr_int64_t allowed);

#endif
