/* The envelopes of TikTok's webcast stream (tiktok/webcast.h): the WebcastPushFrame a
 * WebSocket message carries, the bounded gunzip of its payload and the
 * ProtoMessageFetchResult inside (messages, cursor, route params, ack data, push server).
 * Every length comes from the input and is checked before use; every copy is bounded. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tiktok/webcast.h"

/* A name for logs and comparisons: at most size-1 bytes, anything but printable ASCII → '?'. */
static void copy_name(char *dst, size_t size, const uint8_t *s, size_t len)
{
    if (len >= size)
        len = size - 1;
    for (size_t i = 0; i < len; i++)
        dst[i] = (s[i] > 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    dst[len] = '\0';
}

static int field_is(const live_pb_field_t *f, const char *s)
{
    size_t n = strlen(s);
    return f->len == n && memcmp(f->data, s, n) == 0;
}

/* A header {1 key, 2 value}: 1 when it says compress_type=gzip, 0 otherwise, -1 malformed. */
static int header_gzip(const uint8_t *buf, size_t len)
{
    live_pb_reader_t r;
    live_pb_field_t f;
    int rc, key = 0, value = 0;

    live_pb_reader_init(&r, buf, len);
    while ((rc = live_pb_next(&r, &f)) > 0) {
        if (f.number != 1 && f.number != 2)
            continue;
        if (f.wire != LIVE_PB_LEN)
            return -1;
        if (f.number == 1)
            key = field_is(&f, "compress_type");
        else
            value = field_is(&f, "gzip");
    }
    return rc < 0 ? -1 : key && value;
}

int live_push_frame_decode(const uint8_t *buf, size_t len, live_push_frame_t *out)
{
    live_pb_reader_t r;
    live_pb_field_t f;
    int rc, g;

    memset(out, 0, sizeof(*out));
    if (!buf || len > LIVE_WEBCAST_MAX_FRAME)
        return -1;
    live_pb_reader_init(&r, buf, len);
    while ((rc = live_pb_next(&r, &f)) > 0) {
        int want = (f.number >= 5 && f.number <= 8) ? LIVE_PB_LEN : LIVE_PB_VARINT;
        if (f.number > 8)
            continue;                            /* unknown: skipped */
        if (f.wire != want)
            return -1;
        switch (f.number) {
        case 1: out->seq_id = f.varint; break;
        case 2: out->log_id = f.varint; break;
        case 3: out->service = (int64_t)f.varint; break;
        case 4: out->method = (int64_t)f.varint; break;
        case 5:
            if ((g = header_gzip(f.data, f.len)) < 0)
                return -1;
            out->gzip |= g;
            break;
        case 6: break;                           /* payload_encoding: always "pb" */
        case 7:
            /* A type that does not fit is no type we know: left "". */
            live_pb_copy_string(out->payload_type, sizeof(out->payload_type), f.data, f.len, 1);
            break;
        case 8:
            out->payload = f.data;
            out->payload_len = f.len;
            break;
        }
    }
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    if (out->payload_len >= 3 && out->payload[0] == 0x1f && out->payload[1] == 0x8b &&
        out->payload[2] == 0x08)
        out->gzip = 1;
    return 0;
}

int live_gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *out_len)
{
    z_stream zs;
    uint8_t *buf = NULL, *nb;
    size_t cap, limit;
    int rc;

    *out = NULL;
    *out_len = 0;
    if (!in || len == 0 || len > UINT_MAX || max >= SIZE_MAX - 1)
        return -1;
    /* One byte over max is room enough to see that the output does not fit. */
    limit = max + 1;
    cap = len < limit / 4 ? len * 4 : limit;
    if (cap < 4096)
        cap = limit < 4096 ? limit : 4096;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)     /* gzip wrapper only */
        return -1;
    buf = malloc(cap);
    if (!buf)
        goto fail;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    for (;;) {
        size_t room = cap - zs.total_out;
        zs.next_out = buf + zs.total_out;
        zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            goto fail;                                  /* corrupt data, OOM */
        if (zs.avail_out > 0)
            goto fail;                                  /* input ended inside the member */
        if (zs.total_out >= limit)
            goto fail;                                  /* more than max */
        cap = cap > limit / 2 ? limit : cap * 2;
        nb = realloc(buf, cap);
        if (!nb)
            goto fail;
        buf = nb;
    }
    if (zs.total_out > max)
        goto fail;
    *out_len = zs.total_out;
    *out = buf;
    inflateEnd(&zs);
    return 0;
fail:
    inflateEnd(&zs);
    free(buf);
    return -1;
}

/* BaseProtoMessage: 1 method, 2 payload, 3 msg_id. An envelope that does not decode is kept
 * with method "" (live_webcast_decode calls it malformed). */
static void decode_envelope(const uint8_t *buf, size_t len, live_webcast_msg_t *m)
{
    live_pb_reader_t r;
    live_pb_field_t f;
    int rc;

    memset(m, 0, sizeof(*m));
    live_pb_reader_init(&r, buf, len);
    while ((rc = live_pb_next(&r, &f)) > 0) {
        if (f.number == 1 || f.number == 2) {
            if (f.wire != LIVE_PB_LEN)
                break;
            if (f.number == 1) {
                copy_name(m->method, sizeof(m->method), f.data, f.len);
            } else {
                m->payload = f.data;
                m->payload_len = f.len;
            }
        } else if (f.number == 3) {
            if (f.wire != LIVE_PB_VARINT)
                break;
            m->msg_id = (int64_t)f.varint;
        }
    }
    if (rc != 0) {
        memset(m, 0, sizeof(*m));
        m->payload = buf;
        m->payload_len = len;
    }
}

static int add_message(live_fetch_result_t *out, int *cap, const uint8_t *buf, size_t len)
{
    if (out->n_messages >= LIVE_WEBCAST_MAX_MESSAGES)
        return 0;                                       /* the rest is dropped */
    if (out->n_messages == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        live_webcast_msg_t *nm;
        if (ncap > LIVE_WEBCAST_MAX_MESSAGES)
            ncap = LIVE_WEBCAST_MAX_MESSAGES;
        nm = realloc(out->messages, (size_t)ncap * sizeof(*nm));
        if (!nm)
            return -1;
        out->messages = nm;
        *cap = ncap;
    }
    decode_envelope(buf, len, &out->messages[out->n_messages++]);
    return 0;
}

/* A route_params map entry {1 key, 2 value}. Entries whose key or value do not fit (or hold
 * a NUL) are skipped; a repeated key keeps its last value. -1 when malformed. */
static int add_route(live_fetch_result_t *out, const uint8_t *buf, size_t len)
{
    live_pb_reader_t r;
    live_pb_field_t f;
    live_route_param_t rp;
    int rc, ok_key = 0, ok_value = 1, i;

    memset(&rp, 0, sizeof(rp));
    live_pb_reader_init(&r, buf, len);
    while ((rc = live_pb_next(&r, &f)) > 0) {
        if (f.number != 1 && f.number != 2)
            continue;
        if (f.wire != LIVE_PB_LEN)
            return -1;
        if (f.number == 1)
            ok_key = live_pb_copy_string(rp.key, sizeof(rp.key), f.data, f.len, 0) == 0 && f.len > 0;
        else
            ok_value = live_pb_copy_string(rp.value, sizeof(rp.value), f.data, f.len, 0) == 0;
    }
    if (rc < 0)
        return -1;
    if (!ok_key || !ok_value)
        return 0;
    for (i = 0; i < out->n_route; i++)
        if (strcmp(out->route[i].key, rp.key) == 0)
            break;
    if (i == LIVE_WEBCAST_MAX_ROUTE)
        return 0;                                       /* full: further keys dropped */
    out->route[i] = rp;
    if (i == out->n_route)
        out->n_route++;
    return 0;
}

int live_fetch_result_decode(const uint8_t *buf, size_t len, live_fetch_result_t *out)
{
    live_pb_reader_t r;
    live_pb_field_t f;
    int rc, cap = 0;

    memset(out, 0, sizeof(*out));
    if (!buf || len > LIVE_WEBCAST_MAX_FRAME)
        return -1;
    live_pb_reader_init(&r, buf, len);
    while ((rc = live_pb_next(&r, &f)) > 0) {
        int want;
        switch (f.number) {
        case 1: case 2: case 5: case 7: case 10: want = LIVE_PB_LEN; break;
        case 3: case 4: case 8: case 9: case 11: want = LIVE_PB_VARINT; break;
        default: continue;                              /* unknown or unused: skipped */
        }
        if (f.wire != want)
            goto bad;
        switch (f.number) {
        case 1:
            if (add_message(out, &cap, f.data, f.len) < 0)
                goto bad;
            break;
        case 2:
            live_pb_copy_string(out->cursor, sizeof(out->cursor), f.data, f.len, 0);
            break;
        case 3: out->fetch_interval_ms = (int64_t)f.varint; break;
        case 4: out->now_ms = (int64_t)f.varint; break;
        case 5:
            free(out->internal_ext);
            out->internal_ext_len = 0;
            out->internal_ext = malloc(f.len ? f.len : 1);
            if (!out->internal_ext)
                goto bad;
            if (f.len)
                memcpy(out->internal_ext, f.data, f.len);
            out->internal_ext_len = f.len;
            break;
        case 7:
            if (add_route(out, f.data, f.len) < 0)
                goto bad;
            break;
        case 8: out->heartbeat_ms = (int64_t)f.varint; break;
        case 9: out->need_ack = f.varint != 0; break;
        case 10:
            live_pb_copy_string(out->push_server, sizeof(out->push_server), f.data, f.len, 1);
            break;
        case 11: out->is_first = f.varint != 0; break;
        }
    }
    if (rc < 0)
        goto bad;
    return 0;
bad:
    live_fetch_result_free(out);
    memset(out, 0, sizeof(*out));
    return -1;
}

void live_fetch_result_free(live_fetch_result_t *r)
{
    if (!r)
        return;
    free(r->messages);
    free(r->internal_ext);
    r->messages = NULL;
    r->n_messages = 0;
    r->internal_ext = NULL;
    r->internal_ext_len = 0;
}
