/* A minimal protobuf wire-format reader and writer (tiktok/pb.h). The reader never allocates
 * and never reads past the end it was given: every length is checked against the bytes left
 * before it is used. The writer grows a buffer up to a fixed maximum. */
#include <stdlib.h>
#include <string.h>

#include "tiktok/pb.h"

#define PB_MAX_FIELD 0x1fffffffu        /* field numbers are 29 bits */
#define PB_VARINT_MAX 10                /* bytes of a 64-bit varint */

void live_pb_reader_init(live_pb_reader_t *r, const uint8_t *buf, size_t len)
{
    r->p = buf;
    r->end = buf ? buf + len : buf;
}

/* 1 and *v, or -1 when truncated or longer than 10 bytes. */
static int read_varint(live_pb_reader_t *r, uint64_t *v)
{
    uint64_t x = 0;

    for (int i = 0; i < PB_VARINT_MAX; i++) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << (7 * i);       /* bits past 64 are dropped (i == 9) */
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return -1;
}

static uint64_t read_le(const uint8_t *p, int n)
{
    uint64_t x = 0;

    for (int i = n - 1; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

int live_pb_next(live_pb_reader_t *r, live_pb_field_t *f)
{
    uint64_t tag, n;
    size_t left;

    memset(f, 0, sizeof(*f));
    if (!r->p || r->p >= r->end)
        return 0;
    if (read_varint(r, &tag) < 0)
        return -1;
    if ((tag >> 3) == 0 || (tag >> 3) > PB_MAX_FIELD)
        return -1;
    f->number = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    left = (size_t)(r->end - r->p);
    switch (f->wire) {
    case LIVE_PB_VARINT:
        return read_varint(r, &f->varint);
    case LIVE_PB_I64:
        if (left < 8)
            return -1;
        f->varint = read_le(r->p, 8);
        r->p += 8;
        return 1;
    case LIVE_PB_I32:
        if (left < 4)
            return -1;
        f->varint = read_le(r->p, 4);
        r->p += 4;
        return 1;
    case LIVE_PB_LEN:
        if (read_varint(r, &n) < 0)
            return -1;
        left = (size_t)(r->end - r->p);
        if (n > left)
            return -1;
        f->data = r->p;
        f->len = (size_t)n;
        r->p += (size_t)n;
        return 1;
    default:                      /* 3, 4: groups (deprecated); 6, 7: not wire types */
        return -1;
    }
}

void live_pb_writer_init(live_pb_writer_t *w, size_t max)
{
    memset(w, 0, sizeof(*w));
    w->max = max;
}

void live_pb_writer_free(live_pb_writer_t *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

static int fail(live_pb_writer_t *w)
{
    w->failed = 1;
    return -1;
}

/* Room for n more bytes, within max. */
static int reserve(live_pb_writer_t *w, size_t n)
{
    size_t need, cap;
    uint8_t *nb;

    if (w->failed)
        return -1;
    if (n > w->max || w->len > w->max - n)
        return fail(w);
    need = w->len + n;
    if (need <= w->cap)
        return 0;
    cap = w->cap ? w->cap : 64;
    while (cap < need)
        cap = cap > w->max / 2 ? w->max : cap * 2;
    if (cap > w->max)
        cap = w->max;
    nb = realloc(w->buf, cap ? cap : 1);
    if (!nb)
        return fail(w);
    w->buf = nb;
    w->cap = cap;
    return 0;
}

static size_t encode_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;

    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        out[n++] = b | (v ? 0x80 : 0);
    } while (v);
    return n;
}

static int append_varint(live_pb_writer_t *w, uint64_t v)
{
    uint8_t tmp[PB_VARINT_MAX];
    size_t n = encode_varint(tmp, v);

    if (reserve(w, n) < 0)
        return -1;
    memcpy(w->buf + w->len, tmp, n);
    w->len += n;
    return 0;
}

static int append_tag(live_pb_writer_t *w, uint32_t number, int wire)
{
    if (w->failed)
        return -1;
    if (number == 0 || number > PB_MAX_FIELD)
        return fail(w);
    return append_varint(w, ((uint64_t)number << 3) | (uint64_t)wire);
}

int live_pb_put_varint(live_pb_writer_t *w, uint32_t number, uint64_t v)
{
    if (append_tag(w, number, LIVE_PB_VARINT) < 0)
        return -1;
    return append_varint(w, v);
}

int live_pb_put_bytes(live_pb_writer_t *w, uint32_t number, const void *data, size_t len)
{
    if (len > 0 && !data)
        return fail(w);
    if (append_tag(w, number, LIVE_PB_LEN) < 0 || append_varint(w, (uint64_t)len) < 0 ||
        reserve(w, len) < 0)
        return -1;
    if (len)
        memcpy(w->buf + w->len, data, len);
    w->len += len;
    return 0;
}

int live_pb_put_string(live_pb_writer_t *w, uint32_t number, const char *s)
{
    if (!s)
        return fail(w);
    return live_pb_put_bytes(w, number, s, strlen(s));
}

int live_pb_copy_string(char *dst, size_t size, const uint8_t *s, size_t len, int strict)
{
    dst[0] = '\0';
    if (len >= size)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (s[i] == 0 || (strict && (s[i] <= 0x20 || s[i] >= 0x7f)))
            return -1;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}
