/* The text form of a cache entry (see cache_entry.h). Decoding reads untrusted bytes (a Redis
 * value anyone with access to that Redis could have written): every field is parsed within
 * len, numbers are range-checked and anything else is refused. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "cache/cache_entry.h"
#include "profiles/profile_json.h"
#include "util/shm_block.h"

#define ENTRY_VERSION "v1 "

apr_uint64_t profile_cache_etag(const char *body, apr_size_t len)
{
    apr_uint64_t h = profile_fnv1a(PROFILE_FNV1A_INIT, body, len);

    return h ? h : 1;          /* 0 would read as "no tag" */
}

const char *profile_cache_entry_encode(apr_pool_t *p, const profile_cache_entry_t *e,
                                       apr_size_t *len)
{
    char *head = apr_psprintf(p, ENTRY_VERSION "%d %d %" APR_TIME_T_FMT " %" APR_TIME_T_FMT
                              " %" APR_TIME_T_FMT " %" APR_UINT64_T_HEX_FMT "\n", e->status,
                              e->tier, e->fetched_at, e->expires_at, e->stale_until, e->etag);
    apr_size_t head_len = strlen(head);
    char *out = apr_palloc(p, head_len + e->body_len + 1);

    memcpy(out, head, head_len);
    if (e->body_len)
        memcpy(out + head_len, e->body, e->body_len);
    out[head_len + e->body_len] = '\0';
    *len = head_len + e->body_len;
    return out;
}

typedef struct {
    const char *at;
    const char *end;
} cursor_t;

/* A decimal number (optional '-') in [min, max], followed by sep. */
static int read_int(cursor_t *c, apr_int64_t min, apr_int64_t max, char sep, apr_int64_t *out)
{
    int negative = c->at < c->end && *c->at == '-';
    apr_uint64_t v = 0;
    const char *digits;

    c->at += negative;
    for (digits = c->at; c->at < c->end && *c->at >= '0' && *c->at <= '9'; c->at++) {
        if (v > (apr_uint64_t)APR_INT64_MAX / 10)
            return -1;
        v = v * 10 + (apr_uint64_t)(*c->at - '0');
    }
    if (c->at == digits || v > (apr_uint64_t)APR_INT64_MAX || c->at >= c->end
        || *c->at != sep)
        return -1;
    c->at++;
    *out = negative ? -(apr_int64_t)v : (apr_int64_t)v;
    return *out < min || *out > max ? -1 : 0;
}

/* 1..16 hex digits followed by sep. */
static int read_hex(cursor_t *c, char sep, apr_uint64_t *out)
{
    const char *digits = c->at;
    apr_uint64_t v = 0;

    for (; c->at < c->end && apr_isxdigit(*c->at); c->at++) {
        int d = *c->at <= '9' ? *c->at - '0' : (apr_tolower(*c->at) - 'a' + 10);

        if (c->at - digits >= 16)
            return -1;
        v = v << 4 | (apr_uint64_t)d;
    }
    if (c->at == digits || c->at >= c->end || *c->at != sep)
        return -1;
    c->at++;
    *out = v;
    return 0;
}

int profile_cache_entry_decode(apr_pool_t *p, const char *data, apr_size_t len,
                               profile_cache_entry_t *e)
{
    cursor_t c = { data, data + len };
    apr_int64_t status, tier, fetched, expires, stale;
    apr_uint64_t etag;
    char *body;

    if (len < sizeof(ENTRY_VERSION) - 1 || memcmp(data, ENTRY_VERSION, sizeof(ENTRY_VERSION) - 1))
        return -1;
    c.at += sizeof(ENTRY_VERSION) - 1;
    if (read_int(&c, 100, 599, ' ', &status)
        || read_int(&c, -1, PROFILE_TIER_COUNT - 1, ' ', &tier)
        || read_int(&c, 0, APR_INT64_MAX, ' ', &fetched)
        || read_int(&c, 0, APR_INT64_MAX, ' ', &expires)
        || read_int(&c, 0, APR_INT64_MAX, ' ', &stale) || read_hex(&c, '\n', &etag) || !etag
        || (apr_size_t)(c.end - c.at) > PROFILE_CACHE_BODY_MAX)
        return -1;
    body = apr_palloc(p, (apr_size_t)(c.end - c.at) + 1);
    memcpy(body, c.at, (apr_size_t)(c.end - c.at));
    body[c.end - c.at] = '\0';
    e->status = (int)status;
    e->tier = (int)tier;
    e->fetched_at = fetched;
    e->expires_at = expires;
    e->stale_until = stale;
    e->etag = etag;
    e->body = body;
    e->body_len = (apr_size_t)(c.end - c.at);
    return 0;
}
