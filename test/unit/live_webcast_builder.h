/* A test-only protobuf builder for the webcast unit tests (live_test_pb.c,
 * live_test_webcast.c, live_test_webcast_fetch.c), independent of pb.c's writer: tb_t grows a buffer of fields
 * (varint, LEN, nested messages) and tb_env appends a BaseProtoMessage to a fetch result.
 * Static inline, so a test file may use only some of them. */
#ifndef LIVE_WEBCAST_BUILDER_H
#define LIVE_WEBCAST_BUILDER_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct {
    uint8_t *b;
    size_t n, cap;
} tb_t;

static inline void tb_raw(tb_t *t, const void *p, size_t n)
{
    if (t->n + n > t->cap) {
        t->cap = (t->n + n) * 2 + 64;
        t->b = realloc(t->b, t->cap);
        assert_non_null(t->b);
    }
    if (n)
        memcpy(t->b + t->n, p, n);
    t->n += n;
}

static inline void tb_varint(tb_t *t, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        tb_raw(t, &c, 1);
        v >>= 7;
    } while (v);
}

static inline void tb_free(tb_t *t)
{
    free(t->b);
    memset(t, 0, sizeof(*t));
}

static inline void tb_u(tb_t *t, uint32_t field, uint64_t v)
{
    tb_varint(t, (uint64_t)field << 3);
    tb_varint(t, v);
}

static inline void tb_b(tb_t *t, uint32_t field, const void *p, size_t n)
{
    tb_varint(t, ((uint64_t)field << 3) | 2);
    tb_varint(t, n);
    tb_raw(t, p, n);
}

static inline void tb_s(tb_t *t, uint32_t field, const char *s)
{
    tb_b(t, field, s, strlen(s));
}

/* Appends sub as a LEN field, then empties sub (tb_mv: takes it by value). */
static inline void tb_m(tb_t *t, uint32_t field, tb_t *sub)
{
    tb_b(t, field, sub->b, sub->n);
    tb_free(sub);
}

static inline void tb_mv(tb_t *t, uint32_t field, tb_t sub)
{
    tb_m(t, field, &sub);
}

/* A BaseProtoMessage {1 method, 2 payload, 3 msg_id} appended to a fetch result. */
static inline void tb_env(tb_t *fr, const char *method, tb_t payload, uint64_t id)
{
    tb_t m = { 0 };
    tb_s(&m, 1, method);
    tb_mv(&m, 2, payload);
    if (id)
        tb_u(&m, 3, id);
    tb_m(fr, 1, &m);
}

#endif
