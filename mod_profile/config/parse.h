/* Pure parsers for directive values. Each returns NULL on success or an error message
 * (allocated from p) that names what the value must look like; the directive handler
 * prefixes the directive name. No httpd dependencies: unit tested directly. */
#ifndef PROFILE_CONFIG_PARSE_H
#define PROFILE_CONFIG_PARSE_H

#include <apr_pools.h>

/* A decimal integer in [min, max]. */
const char *profile_parse_int(apr_pool_t *p, const char *arg, long min, long max, long *out);

/* A byte size: digits with an optional K, M or G suffix (powers of 1024), in [min, max]. */
const char *profile_parse_size(apr_pool_t *p, const char *arg, apr_off_t min, apr_off_t max,
                               apr_off_t *out);

/* redis://[:password@]host[:port][/db] or unix:///path/to/socket[?db=N]. */
typedef struct {
    const char *host;          /* NULL for unix sockets */
    int port;
    const char *socket_path;   /* NULL for TCP */
    const char *password;      /* NULL when none */
    int db;
} profile_redis_target_t;
const char *profile_parse_redis_url(apr_pool_t *p, const char *arg, profile_redis_target_t *out);

/* http://host[:port][/path] without query or fragment; the trailing slash is dropped. */
const char *profile_parse_http_url(apr_pool_t *p, const char *arg, const char **normalized);
/* The same, with https:// allowed too. */
const char *profile_parse_web_url(apr_pool_t *p, const char *arg, const char **normalized);

#endif
