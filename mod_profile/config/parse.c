/* Pure parsers for directive values; see parse.h. */
#include <apr_strings.h>
#include <apr_lib.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/parse.h"

static int parse_decimal(const char *arg, long long *out)
{
    char *end;
    if (!arg || !apr_isdigit(*arg))
        return 0;
    errno = 0;
    *out = strtoll(arg, &end, 10);
    return errno == 0 && *end == '\0';
}

const char *profile_parse_int(apr_pool_t *p, const char *arg, long min, long max, long *out)
{
    long long v;
    if (!parse_decimal(arg, &v) || v < min || v > max)
        return apr_psprintf(p, "must be an integer between %ld and %ld, got '%s'", min, max,
                            arg ? arg : "");
    *out = (long)v;
    return NULL;
}

const char *profile_parse_size(apr_pool_t *p, const char *arg, apr_off_t min, apr_off_t max,
                               apr_off_t *out)
{
    const char *expect = apr_psprintf(
        p, "must be a size in bytes with an optional K, M or G suffix, between %" APR_OFF_T_FMT
           " and %" APR_OFF_T_FMT " bytes, got '%s'", min, max, arg ? arg : "");
    char *digits, *end;
    apr_size_t len;
    long long v, mult = 1;

    if (!arg || !*arg)
        return expect;
    digits = apr_pstrdup(p, arg);
    len = strlen(digits);
    switch (apr_toupper(digits[len - 1])) {
    case 'K': mult = 1024LL; break;
    case 'M': mult = 1024LL * 1024; break;
    case 'G': mult = 1024LL * 1024 * 1024; break;
    default: break;
    }
    if (mult != 1)
        digits[len - 1] = '\0';
    if (!apr_isdigit(*digits))
        return expect;
    errno = 0;
    v = strtoll(digits, &end, 10);
    if (errno || *end || v > max / mult || v * mult < min)
        return expect;
    *out = (apr_off_t)(v * mult);
    return NULL;
}

static int valid_host(const char *h)
{
    if (!*h)
        return 0;
    for (; *h; h++)
        if (!apr_isalnum(*h) && !strchr(".-_:[]", *h))
            return 0;
    return 1;
}

/* host[:port] where host may be a bracketed IPv6 literal. */
static const char *split_host_port(apr_pool_t *p, char *hostport, int default_port,
                                   const char **host, int *port)
{
    char *colon = NULL;
    long v;
    if (*hostport == '[') {
        char *close = strchr(hostport, ']');
        if (!close)
            return "has an unterminated IPv6 address";
        *close = '\0';
        *host = hostport + 1;
        if (close[1] == ':')
            colon = close + 1;
        else if (close[1])
            return "has garbage after the IPv6 address";
    }
    else {
        colon = strrchr(hostport, ':');
        if (colon)
            *colon = '\0';
        *host = hostport;
    }
    if (!valid_host(*host))
        return "needs a host name or address";
    *port = default_port;
    if (colon) {
        if (profile_parse_int(p, colon + 1, 1, 65535, &v))
            return "has a port that is not between 1 and 65535";
        *port = (int)v;
    }
    return NULL;
}

/* arg with any "user:password@" part hidden, for error messages. */
static const char *without_secret(apr_pool_t *p, const char *arg)
{
    const char *scheme_end = strstr(arg, "://"), *at = strrchr(arg, '@');
    if (!scheme_end || !at || at < scheme_end)
        return arg;
    return apr_pstrcat(p, apr_pstrmemdup(p, arg, (apr_size_t)(scheme_end + 3 - arg)), "***",
                       at, NULL);
}

const char *profile_parse_redis_url(apr_pool_t *p, const char *arg, profile_redis_target_t *out)
{
    const char *usage = "must be redis://[:password@]host[:port][/db] or unix:///path[?db=N]";
    char *rest, *at, *slash, *q;
    const char *err;
    long db = 0;

    memset(out, 0, sizeof(*out));
    if (!arg)
        return usage;
    if (strncasecmp(arg, "unix://", 7) == 0) {
        rest = apr_pstrdup(p, arg + 7);
        if (*rest != '/')
            return apr_psprintf(p, "%s: the socket path must be absolute, got '%s'", usage, arg);
        q = strchr(rest, '?');
        if (q) {
            *q++ = '\0';
            if (strncmp(q, "db=", 3) || profile_parse_int(p, q + 3, 0, 15, &db))
                return apr_psprintf(p, "%s: db must be between 0 and 15, got '%s'", usage, arg);
        }
        out->socket_path = rest;
        out->db = (int)db;
        return NULL;
    }
    if (strncasecmp(arg, "redis://", 8) != 0)
        return apr_psprintf(p, "%s, got '%s'", usage, without_secret(p, arg));
    rest = apr_pstrdup(p, arg + 8);
    at = strrchr(rest, '@');
    if (at) {
        *at = '\0';
        /* redis://:password@host or redis://user:password@host (the user is ignored) */
        out->password = strchr(rest, ':') ? strchr(rest, ':') + 1 : rest;
        if (!*out->password)
            out->password = NULL;
        rest = at + 1;
    }
    slash = strchr(rest, '/');
    if (slash) {
        *slash++ = '\0';
        if (*slash && profile_parse_int(p, slash, 0, 15, &db))
            return apr_psprintf(p, "%s: db must be between 0 and 15, got '%s'", usage, slash);
    }
    err = split_host_port(p, rest, 6379, &out->host, &out->port);
    if (err)
        return apr_psprintf(p, "%s: '%s' %s", usage, without_secret(p, arg), err);
    out->db = (int)db;
    return NULL;
}

static const char *parse_url(apr_pool_t *p, const char *arg, int https_too,
                             const char **normalized)
{
    const char *usage = https_too
        ? "must be an http(s)://host[:port][/path] URL without query or fragment"
        : "must be an http://host[:port][/path] URL without query or fragment";
    apr_size_t scheme = arg && !strncasecmp(arg, "http://", 7) ? 7
                        : arg && https_too && !strncasecmp(arg, "https://", 8) ? 8 : 0;
    char *rest, *path, *url;
    const char *host, *err;
    int port;
    apr_size_t len;

    if (!scheme || strpbrk(arg, "?# \t"))
        return apr_psprintf(p, "%s, got '%s'", usage, arg ? arg : "");
    rest = apr_pstrdup(p, arg + scheme);
    path = strchr(rest, '/');
    if (path)
        *path = '\0';
    err = split_host_port(p, rest, scheme == 7 ? 80 : 443, &host, &port);
    if (err)
        return apr_psprintf(p, "%s: '%s' %s", usage, arg, err);
    url = apr_pstrdup(p, arg);
    len = strlen(url);
    while (len > scheme && url[len - 1] == '/')
        url[--len] = '\0';
    *normalized = url;
    return NULL;
}

const char *profile_parse_http_url(apr_pool_t *p, const char *arg, const char **normalized)
{
    return parse_url(p, arg, 0, normalized);
}

const char *profile_parse_web_url(apr_pool_t *p, const char *arg, const char **normalized)
{
    return parse_url(p, arg, 1, normalized);
}
