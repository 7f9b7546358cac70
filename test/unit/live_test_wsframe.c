/* Hand-built WebSocket frames (sidecar/ws/wsframe.c): the RFC 6455 header for each length
 * encoding and its boundaries, and batches of complete frames (byte and frame limits, an
 * oversized frame alone, headroom, reuse), checked by decoding the batch back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ws/wsframe.h"

static void check_header(size_t len, const unsigned char *want, size_t want_len)
{
    unsigned char hdr[LIVE_WSFRAME_HDR_MAX + 4];

    memset(hdr, 0xee, sizeof(hdr));
    assert_int_equal(live_wsframe_header(hdr, len), want_len);
    assert_memory_equal(hdr, want, want_len);
    assert_int_equal(hdr[want_len], 0xee);          /* nothing written past the header */
    assert_int_equal(live_wsframe_size(len), len + want_len);
}

static void test_header_lengths(void **state)
{
    (void)state;
    check_header(0, (const unsigned char[]){ 0x81, 0x00 }, 2);
    check_header(1, (const unsigned char[]){ 0x81, 0x01 }, 2);
    check_header(125, (const unsigned char[]){ 0x81, 125 }, 2);
    check_header(126, (const unsigned char[]){ 0x81, 126, 0x00, 126 }, 4);
    check_header(127, (const unsigned char[]){ 0x81, 126, 0x00, 127 }, 4);
    check_header(300, (const unsigned char[]){ 0x81, 126, 0x01, 0x2c }, 4);
    check_header(65535, (const unsigned char[]){ 0x81, 126, 0xff, 0xff }, 4);
    check_header(65536, (const unsigned char[]){ 0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 }, 10);
    check_header(0x01020304, (const unsigned char[]){ 0x81, 127, 0, 0, 0, 0, 1, 2, 3, 4 }, 10);
#if SIZE_MAX > 0xffffffffu
    check_header((size_t)0x0102030405060708ULL,
                 (const unsigned char[]){ 0x81, 127, 1, 2, 3, 4, 5, 6, 7, 8 }, 10);
    {
        unsigned char hdr[LIVE_WSFRAME_HDR_MAX];
        /* The 64-bit length's most significant bit is always 0. */
        live_wsframe_header(hdr, SIZE_MAX - 20);
        assert_int_equal(hdr[2] & 0x80, 0);
    }
#endif
    assert_int_equal(live_wsframe_size(SIZE_MAX - 5), 0);     /* overflow */
}

/* Decodes the frames of buf[0..len): each must be FIN + text, unmasked; returns how many
 * and copies their payloads, NUL separated, into out. */
static unsigned decode(const unsigned char *buf, size_t len, char *out, size_t out_len)
{
    size_t at = 0, o = 0;
    unsigned n = 0;

    while (at < len) {
        uint64_t plen;
        size_t h = 2;

        assert_true(len - at >= 2);
        assert_int_equal(buf[at], 0x81);
        assert_int_equal(buf[at + 1] & 0x80, 0);
        plen = buf[at + 1] & 0x7f;
        if (plen == 126) {
            assert_true(len - at >= 4);
            plen = (uint64_t)buf[at + 2] << 8 | buf[at + 3];
            assert_true(plen >= 126);                 /* minimal encoding */
            h = 4;
        } else if (plen == 127) {
            assert_true(len - at >= 10);
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | buf[at + 2 + i];
            assert_true(plen > 0xffff);
            h = 10;
        }
        assert_true(plen <= len - at - h);
        assert_true(o + plen + 1 <= out_len);
        memcpy(out + o, buf + at + h, plen);
        o += plen;
        out[o++] = '\0';
        at += h + plen;
        n++;
    }
    assert_int_equal(at, len);
    return n;
}

static void test_batch_limits(void **state)
{
    live_wsbatch_t b;
    char payload[70000], out[200000];
    unsigned char *mem;

    (void)state;
    memset(&b, 0, sizeof(b));
    memset(payload, 'x', sizeof(payload));
    assert_int_equal(live_wsbatch_begin(&b, 16, 100, 64), 0);
    assert_ptr_equal(b.buf, b.mem + 16);                       /* the headroom */
    assert_int_equal(live_wsbatch_add(&b, "{\"a\":1}", 7), 1);
    assert_int_equal(live_wsbatch_add(&b, "", 0), 1);
    assert_int_equal(live_wsbatch_add(&b, payload, 80), 1);  /* 7+2 + 0+2 + 80+2 = 93 */
    assert_int_equal(b.len, 93);
    assert_int_equal(live_wsbatch_add(&b, "123456", 6), 0);  /* 93 + 8 = 101 > 100 */
    assert_int_equal(b.len, 93);
    assert_int_equal(b.frames, 3);
    assert_int_equal(live_wsbatch_add(&b, "1234", 4), 1);    /* 93 + 6 = 99 fits */
    assert_int_equal(live_wsbatch_add(&b, "", 0), 0);        /* 101 would not */
    assert_int_equal(b.len, 99);
    assert_int_equal(b.frames, 4);
    assert_int_equal(decode(b.buf, b.len, out, sizeof(out)), 4);
    assert_string_equal(out, "{\"a\":1}");
    assert_string_equal(out + 8, "");
    assert_int_equal(strlen(out + 9), 80);
    assert_string_equal(out + 90, "1234");

    /* Exactly full. */
    assert_int_equal(live_wsbatch_begin(&b, 16, 10, 64), 0);
    assert_int_equal(live_wsbatch_add(&b, "abcdefgh", 8), 1);
    assert_int_equal(b.len, 10);
    assert_int_equal(live_wsbatch_add(&b, "", 0), 0);

    /* The frame limit. */
    assert_int_equal(live_wsbatch_begin(&b, 16, 1000, 3), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(live_wsbatch_add(&b, "ab", 2), 1);
    assert_int_equal(live_wsbatch_add(&b, "ab", 2), 0);
    assert_int_equal(b.len, 12);

    /* Reuse: the memory is kept, not shrunk. */
    mem = b.mem;
    assert_int_equal(live_wsbatch_begin(&b, 16, 500, 64), 0);
    assert_ptr_equal(b.mem, mem);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.frames, 0);

    /* All three length encodings in one batch, decoded back. */
    assert_int_equal(live_wsbatch_begin(&b, 16, 140000, 64), 0);
    assert_int_equal(live_wsbatch_add(&b, payload, 125), 1);
    assert_int_equal(live_wsbatch_add(&b, payload, 126), 1);
    assert_int_equal(live_wsbatch_add(&b, payload, 65535), 1);
    assert_int_equal(live_wsbatch_add(&b, payload, 65536), 1);
    assert_int_equal(b.len, 125 + 2 + 126 + 4 + 65535 + 4 + 65536 + 10);
    assert_int_equal(decode(b.buf, b.len, out, sizeof(out)), 4);
    live_wsbatch_free(&b);
    assert_null(b.mem);
}

static void test_batch_oversized_frame(void **state)
{
    live_wsbatch_t b;
    char payload[40000], out[50000];

    (void)state;
    memset(&b, 0, sizeof(b));
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)('a' + i % 26);
    /* Larger than the batch: refused behind other frames... */
    assert_int_equal(live_wsbatch_begin(&b, 32, 1024, 64), 0);
    assert_int_equal(live_wsbatch_add(&b, "hi", 2), 1);
    assert_int_equal(live_wsbatch_add(&b, payload, sizeof(payload)), 0);
    assert_int_equal(b.frames, 1);
    /* ...taken alone into an empty one, which then takes nothing more. */
    assert_int_equal(live_wsbatch_begin(&b, 32, 1024, 64), 0);
    assert_int_equal(live_wsbatch_add(&b, payload, sizeof(payload)), 1);
    assert_int_equal(b.len, sizeof(payload) + 4);
    assert_ptr_equal(b.buf, b.mem + 32);
    assert_true(b.mem_len >= 32 + b.len);
    assert_int_equal(live_wsbatch_add(&b, "hi", 2), 0);
    assert_int_equal(decode(b.buf, b.len, out, sizeof(out)), 1);
    assert_memory_equal(out, payload, sizeof(payload));
    /* The next batch is bounded by its cap again. */
    assert_int_equal(live_wsbatch_begin(&b, 32, 1024, 64), 0);
    assert_int_equal(b.cap, 1024);
    live_wsbatch_free(&b);
    /* A batch that never began (no frame limit): add allocates for a first frame. */
    assert_int_equal(live_wsbatch_add(&b, "x", 1), 1);
    assert_int_equal(b.len, 3);
    live_wsbatch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_lengths),
        cmocka_unit_test(test_batch_limits),
        cmocka_unit_test(test_batch_oversized_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
