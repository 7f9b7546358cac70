/* The push URL of push.h (live_push_url): the push server (the fetch result's, or the
 * configured tiktok_push_url override) + the fetch result's route params + room_id + the
 * documented fixed params, every key and value percent-encoded, bounded in length. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tiktok/push.h"

#define PUSH_URL_MAX 16384            /* longer push URLs are refused (push.c agrees) */

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} strbuf_t;

static void sb_add(strbuf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > PUSH_URL_MAX) {
        b->failed = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        char *nb;
        while (cap < b->len + n + 1)
            cap *= 2;
        nb = realloc(b->buf, cap);
        if (!nb) {
            b->failed = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static void sb_enc(strbuf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s && !b->failed; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            sb_add(b, (const char *)&c, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            sb_add(b, e, 3);
        }
    }
}

static void sb_param(strbuf_t *b, const char *key, const char *value)
{
    sb_add(b, "&", 1);
    sb_enc(b, key);
    sb_add(b, "=", 1);
    sb_enc(b, value);
}

/* The parameters every push URL carries (after the route params; ours win on a clash). */
static const char *const fixed_params[][2] = {
    { "compress", "gzip" }, { "identity", "audience" }, { "live_id", "12" },
    { "version_code", "180800" }, { "resp_content_type", "protobuf" }, { "aid", "1988" },
    { "app_name", "tiktok_web" }, { "device_platform", "web_pc" },
};

static int is_fixed_key(const char *key)
{
    if (strcmp(key, "room_id") == 0)
        return 1;
    for (size_t i = 0; i < sizeof(fixed_params) / sizeof(fixed_params[0]); i++)
        if (strcmp(key, fixed_params[i][0]) == 0)
            return 1;
    return 0;
}

char *live_push_url(const live_config_t *cfg, const live_fetch_result_t *fr,
                    const char *room_id)
{
    const char *base = cfg->tiktok_push_url[0] ? cfg->tiktok_push_url
                                               : fr ? fr->push_server : "";
    strbuf_t b = { 0 };
    size_t skip = 0;

    if (!room_id || !room_id[0])
        return NULL;
    /* ws:// or wss:// (an http(s):// push server is taken as its WebSocket form) */
    if (strncasecmp(base, "wss://", 6) == 0 || strncasecmp(base, "ws://", 5) == 0) {
        skip = 0;
    } else if (strncasecmp(base, "https://", 8) == 0) {
        sb_add(&b, "wss://", 6);
        skip = 8;
    } else if (strncasecmp(base, "http://", 7) == 0) {
        sb_add(&b, "ws://", 5);
        skip = 7;
    } else {
        return NULL;
    }
    if (!base[skip] || strpbrk(base, " \t\r\n#")) {
        free(b.buf);
        return NULL;
    }
    sb_add(&b, base + skip, strlen(base + skip));
    if (b.failed) {
        free(b.buf);
        return NULL;
    }
    /* "…?" + route params + room_id + the fixed params; the first '&' becomes '?' (or stays
     * '&' when the base already has a query). */
    {
        size_t q = b.len;
        int has_query = strchr(b.buf, '?') != NULL;
        int ends_open = b.len > 0 && (b.buf[b.len - 1] == '?' || b.buf[b.len - 1] == '&');
        for (int i = 0; fr && i < fr->n_route; i++)
            if (fr->route[i].key[0] && !is_fixed_key(fr->route[i].key))
                sb_param(&b, fr->route[i].key, fr->route[i].value);
        sb_param(&b, "room_id", room_id);
        for (size_t i = 0; i < sizeof(fixed_params) / sizeof(fixed_params[0]); i++)
            sb_param(&b, fixed_params[i][0], fixed_params[i][1]);
        if (b.failed) {
            free(b.buf);
            return NULL;
        }
        if (ends_open)
            memmove(b.buf + q, b.buf + q + 1, b.len - q);   /* drop the doubled separator */
        else if (!has_query)
            b.buf[q] = '?';
    }
    return b.buf;
}
