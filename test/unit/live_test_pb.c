/* The wire-format layer of the TikTok source against hand-written bytes: the protobuf reader
 * and writer (sidecar/tiktok/pb.c: every wire type, varints up to the 10-byte limit,
 * truncated and over-long inputs, bad tags, the writer's bound), push frames (plain, gzip by
 * header or by magic, malformed), the bounded gunzip (a zero bomb) and the client frames
 * (enter room, heartbeat, ack) byte for byte (sidecar/tiktok/webcast_frame.c, _encode.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "live_webcast_builder.h"   /* a test-only protobuf builder, independent of pb.c */
#include "tiktok/pb.h"
#include "tiktok/webcast.h"

#define B(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

static uint8_t *gz(const void *in, size_t n, size_t *out_len)
{
    z_stream zs;
    uint8_t *out = malloc(n + 1024);

    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)(n + 1024);
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* Reads every field of buf; the return of the last live_pb_next (0 or -1), *n fields. */
static int read_all(const uint8_t *buf, size_t len, live_pb_field_t *out, int max, int *n)
{
    live_pb_reader_t r;
    live_pb_field_t f;
    int rc;

    *n = 0;
    live_pb_reader_init(&r, buf, len);
    while ((rc = live_pb_next(&r, &f)) > 0)
        if (*n < max)
            out[(*n)++] = f;
    return rc;
}

static int status_of(const uint8_t *buf, size_t len)
{
    live_pb_field_t f[8];
    int n;
    return read_all(buf, len, f, 8, &n);
}

static void test_wire_types(void **state)
{
    static const uint8_t msg[] = {
        0x08, 0x96, 0x01,                               /* 1: varint 150 */
        0x11, 1, 2, 3, 4, 5, 6, 7, 8,                   /* 2: i64 */
        0x1a, 0x03, 'a', 'b', 'c',                      /* 3: "abc" */
        0x25, 0x78, 0x56, 0x34, 0x12,                   /* 4: i32 */
        0x2a, 0x00,                                     /* 5: empty bytes */
        0xf8, 0x02, 0x2a,                               /* 47: varint 42 */
    };
    live_pb_field_t f[8];
    int n;

    (void)state;
    assert_int_equal(read_all(msg, sizeof(msg), f, 8, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(f[0].number, 1);
    assert_int_equal(f[0].wire, LIVE_PB_VARINT);
    assert_int_equal(f[0].varint, 150);
    assert_int_equal(f[1].number, 2);
    assert_int_equal(f[1].wire, LIVE_PB_I64);
    assert_true(f[1].varint == 0x0807060504030201ULL);
    assert_int_equal(f[2].number, 3);
    assert_int_equal(f[2].wire, LIVE_PB_LEN);
    assert_int_equal(f[2].len, 3);
    assert_ptr_equal(f[2].data, msg + 14);              /* points into the input */
    assert_memory_equal(f[2].data, "abc", 3);
    assert_int_equal(f[3].wire, LIVE_PB_I32);
    assert_int_equal(f[3].varint, 0x12345678);
    assert_int_equal(f[4].number, 5);
    assert_int_equal(f[4].len, 0);
    assert_int_equal(f[5].number, 47);
    assert_int_equal(f[5].varint, 42);
}

static void test_varints(void **state)
{
    live_pb_field_t f[2];
    int n;

    (void)state;
    /* The largest 64-bit value: ten bytes. */
    assert_int_equal(read_all(B(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0x01), f, 2, &n), 0);
    assert_int_equal(n, 1);
    assert_true(f[0].varint == UINT64_MAX);
    /* A negative int64 (-1) is the same ten bytes; -2 likewise. */
    assert_int_equal(read_all(B(0x08, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0x01), f, 2, &n), 0);
    assert_true((int64_t)f[0].varint == -2);
    /* Non-minimal encodings are still valid: 0 in 3 bytes. */
    assert_int_equal(read_all(B(0x08, 0x80, 0x80, 0x00), f, 2, &n), 0);
    assert_int_equal(f[0].varint, 0);
    /* Eleven bytes: malformed. */
    assert_int_equal(status_of(B(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                 0x80, 0x01)), -1);
    /* Truncated values and tags. */
    assert_int_equal(status_of(B(0x08)), -1);
    assert_int_equal(status_of(B(0x08, 0x80)), -1);
    assert_int_equal(status_of(B(0x80)), -1);
    /* A tag that is an over-long varint. */
    assert_int_equal(status_of(B(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff)), -1);
}

static void test_malformed(void **state)
{
    live_pb_field_t f[4];
    int n;

    (void)state;
    assert_int_equal(status_of(B(0x00, 0x01)), -1);                 /* field 0 */
    assert_int_equal(status_of(B(0x02, 0x00)), -1);                 /* field 0, LEN */
    assert_int_equal(status_of(B(0x0b)), -1);                       /* group start */
    assert_int_equal(status_of(B(0x0c)), -1);                       /* group end */
    assert_int_equal(status_of(B(0x0e, 0x00)), -1);                 /* wire type 6 */
    assert_int_equal(status_of(B(0x0f, 0x00)), -1);                 /* wire type 7 */
    assert_int_equal(status_of(B(0x0a, 0x05, 'a', 'b')), -1);       /* LEN past the end */
    assert_int_equal(status_of(B(0x0a)), -1);                       /* LEN without length */
    assert_int_equal(status_of(B(0x0a, 0x80)), -1);                 /* truncated length */
    /* A length near 2^64 must not wrap around the pointer arithmetic. */
    assert_int_equal(status_of(B(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0x01, 'x')), -1);
    assert_int_equal(status_of(B(0x0a, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0x01, 'x')), -1);
    assert_int_equal(status_of(B(0x09, 1, 2, 3, 4, 5, 6, 7)), -1);  /* i64 short */
    assert_int_equal(status_of(B(0x0d, 1, 2, 3)), -1);              /* i32 short */
    /* Field number above 2^29 - 1 (tag 0x1_0000_0000 | LEN). */
    assert_int_equal(status_of(B(0x82, 0x80, 0x80, 0x80, 0x10, 0x00)), -1);
    /* The highest field number is fine. */
    assert_int_equal(read_all(B(0xf8, 0xff, 0xff, 0xff, 0x0f, 0x07), f, 4, &n), 0);
    assert_int_equal(f[0].number, 0x1fffffff);
    assert_int_equal(f[0].varint, 7);
    /* Fields before the error are still seen; the reader then reports -1. */
    assert_int_equal(read_all(B(0x08, 0x01, 0x12, 0x09, 'x'), f, 4, &n), -1);
    assert_int_equal(n, 1);
    /* Empty and NULL inputs have no fields. */
    assert_int_equal(status_of((const uint8_t *)"", 0), 0);
    assert_int_equal(read_all(NULL, 0, f, 4, &n), 0);
    assert_int_equal(n, 0);
}

static void test_nested(void **state)
{
    /* 2: {1: "hi", 2: 7} – a sub-message is read with a reader of its own. */
    static const uint8_t msg[] = { 0x12, 0x06, 0x0a, 0x02, 'h', 'i', 0x10, 0x07 };
    live_pb_field_t f[2], g[4];
    int n, m;

    (void)state;
    assert_int_equal(read_all(msg, sizeof(msg), f, 2, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(read_all(f[0].data, f[0].len, g, 4, &m), 0);
    assert_int_equal(m, 2);
    assert_memory_equal(g[0].data, "hi", 2);
    assert_int_equal(g[1].varint, 7);
}

static void test_writer(void **state)
{
    static const uint8_t want[] = {
        0x08, 0x96, 0x01,                               /* 1: 150 */
        0x10, 0x00,                                     /* 2: 0 */
        0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,   /* 3: 2^64-1 */
        0x22, 0x02, 'h', 'i',                           /* 4: "hi" */
        0x2a, 0x00,                                     /* 5: empty */
        0x82, 0x01, 0x03, 0x01, 0x00, 0x02,             /* 16: 3 bytes */
    };
    live_pb_writer_t w;

    (void)state;
    live_pb_writer_init(&w, 1024);
    assert_int_equal(live_pb_put_varint(&w, 1, 150), 0);
    assert_int_equal(live_pb_put_varint(&w, 2, 0), 0);
    assert_int_equal(live_pb_put_varint(&w, 3, UINT64_MAX), 0);
    assert_int_equal(live_pb_put_string(&w, 4, "hi"), 0);
    assert_int_equal(live_pb_put_bytes(&w, 5, NULL, 0), 0);
    assert_int_equal(live_pb_put_bytes(&w, 16, "\x01\x00\x02", 3), 0);
    assert_int_equal(w.failed, 0);
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(w.buf, want, sizeof(want));
    live_pb_writer_free(&w);
    assert_null(w.buf);
    assert_int_equal(w.len, 0);
}

static void test_writer_limits(void **state)
{
    live_pb_writer_t w;
    uint8_t big[300];

    (void)state;
    /* Exactly max fits; one byte more fails and the failure sticks. */
    live_pb_writer_init(&w, 5);
    assert_int_equal(live_pb_put_string(&w, 1, "abc"), 0);
    assert_int_equal(w.len, 5);
    assert_int_equal(live_pb_put_varint(&w, 1, 0), -1);
    assert_int_equal(w.failed, 1);
    assert_int_equal(live_pb_put_string(&w, 1, ""), -1);
    assert_int_equal(w.len, 5);
    live_pb_writer_free(&w);

    /* Bad field numbers and arguments. */
    live_pb_writer_init(&w, 64);
    assert_int_equal(live_pb_put_varint(&w, 0, 1), -1);
    assert_int_equal(w.failed, 1);
    live_pb_writer_free(&w);
    live_pb_writer_init(&w, 64);
    assert_int_equal(live_pb_put_varint(&w, 0x20000000u, 1), -1);
    live_pb_writer_free(&w);
    live_pb_writer_init(&w, 64);
    assert_int_equal(live_pb_put_bytes(&w, 1, NULL, 3), -1);
    live_pb_writer_free(&w);
    live_pb_writer_init(&w, 64);
    assert_int_equal(live_pb_put_string(&w, 1, NULL), -1);
    live_pb_writer_free(&w);

    /* Growth past the first allocation; the round trip reads the same bytes back. */
    memset(big, 0xab, sizeof(big));
    live_pb_writer_init(&w, 4096);
    for (int i = 0; i < 10; i++)
        assert_int_equal(live_pb_put_bytes(&w, (uint32_t)i + 1, big, sizeof(big)), 0);
    assert_int_equal(w.len, 10 * (1 + 2 + sizeof(big)));
    {
        live_pb_field_t f[12];
        int n;
        assert_int_equal(read_all(w.buf, w.len, f, 12, &n), 0);
        assert_int_equal(n, 10);
        assert_int_equal(f[9].number, 10);
        assert_int_equal(f[9].len, sizeof(big));
        assert_memory_equal(f[9].data, big, sizeof(big));
    }
    live_pb_writer_free(&w);

    /* A zero bound takes nothing at all. */
    live_pb_writer_init(&w, 0);
    assert_int_equal(live_pb_put_varint(&w, 1, 1), -1);
    live_pb_writer_free(&w);
}

/* ---- push frames and gunzip ---------------------------------------------------------- */

static void test_push_frame(void **state)
{
    tb_t f = { 0 }, h = { 0 }, h2 = { 0 };
    live_push_frame_t pf;
    uint8_t *z;
    size_t zn;

    (void)state;
    tb_u(&f, 1, 5);
    tb_u(&f, 2, 7301234567890123456ULL);
    tb_u(&f, 3, 1);
    tb_u(&f, 4, 2);
    tb_s(&h, 1, "im-cursor");
    tb_s(&h, 2, "t-123");
    tb_m(&f, 5, &h);
    tb_s(&f, 6, "pb");
    tb_s(&f, 7, "msg");
    tb_s(&f, 8, "PAYLOAD");
    tb_u(&f, 99, 1);                                    /* unknown: skipped */
    assert_int_equal(live_push_frame_decode(f.b, f.n, &pf), 0);
    assert_int_equal(pf.seq_id, 5);
    assert_true(pf.log_id == 7301234567890123456ULL);
    assert_int_equal(pf.service, 1);
    assert_int_equal(pf.method, 2);
    assert_string_equal(pf.payload_type, "msg");
    assert_int_equal(pf.gzip, 0);
    assert_int_equal(pf.payload_len, 7);
    assert_memory_equal(pf.payload, "PAYLOAD", 7);

    /* compress_type=gzip in a header (next to another header). */
    tb_s(&h, 1, "compress_type");
    tb_s(&h, 2, "gzip");
    tb_m(&f, 5, &h);
    assert_int_equal(live_push_frame_decode(f.b, f.n, &pf), 0);
    assert_int_equal(pf.gzip, 1);
    free(f.b);

    /* The gzip magic alone; compress_type=none is no gzip. */
    memset(&f, 0, sizeof(f));
    tb_s(&h2, 1, "compress_type");
    tb_s(&h2, 2, "none");
    tb_m(&f, 5, &h2);
    tb_s(&f, 7, "msg");
    assert_int_equal(live_push_frame_decode(f.b, f.n, &pf), 0);
    assert_int_equal(pf.gzip, 0);
    z = gz("hello", 5, &zn);
    tb_b(&f, 8, z, zn);
    assert_int_equal(live_push_frame_decode(f.b, f.n, &pf), 0);
    assert_int_equal(pf.gzip, 1);
    free(z);
    free(f.b);

    /* An empty frame is a frame without type or payload. */
    assert_int_equal(live_push_frame_decode((const uint8_t *)"", 0, &pf), 0);
    assert_string_equal(pf.payload_type, "");
    assert_null(pf.payload);
}

static void test_push_frame_malformed(void **state)
{
    tb_t f = { 0 }, h = { 0 };
    live_push_frame_t pf;
    uint8_t *big;
    char longtype[64];

    (void)state;
    tb_u(&f, 1, 5);
    tb_s(&f, 7, "msg");
    tb_s(&f, 8, "PAYLOAD");
    for (size_t cut = 1; cut < f.n; cut++) {            /* every truncation but whole fields */
        int rc = live_push_frame_decode(f.b, cut, &pf);
        if (cut != 2 && cut != 7)
            assert_int_equal(rc, -1);
    }
    tb_free(&f);
    tb_s(&f, 1, "x");                                   /* seq_id as bytes */
    assert_int_equal(live_push_frame_decode(f.b, f.n, &pf), -1);
    tb_free(&f);
    tb_u(&f, 8, 1);                                     /* payload as a varint */
    assert_int_equal(live_push_frame_decode(f.b, f.n, &pf), -1);
    tb_free(&f);
    tb_raw(&h, "\x0a\x09", 2);                          /* a header cut short */
    tb_m(&f, 5, &h);
    assert_int_equal(live_push_frame_decode(f.b, f.n, &pf), -1);
    free(f.b);
    /* A payload type that does not fit, or holds a NUL or a space, is no type. */
    memset(&f, 0, sizeof(f));
    memset(longtype, 'm', sizeof(longtype) - 1);
    longtype[63] = '\0';
    tb_s(&f, 7, longtype);
    assert_int_equal(live_push_frame_decode(f.b, f.n, &pf), 0);
    assert_string_equal(pf.payload_type, "");
    tb_free(&f);
    tb_b(&f, 7, "msg\0x", 5);
    assert_int_equal(live_push_frame_decode(f.b, f.n, &pf), 0);
    assert_string_equal(pf.payload_type, "");
    free(f.b);
    /* Larger than LIVE_WEBCAST_MAX_FRAME: refused without reading. */
    big = calloc(1, LIVE_WEBCAST_MAX_FRAME + 1);
    assert_int_equal(live_push_frame_decode(big, LIVE_WEBCAST_MAX_FRAME + 1, &pf), -1);
    live_fetch_result_t fr;
    assert_int_equal(live_fetch_result_decode(big, LIVE_WEBCAST_MAX_FRAME + 1, &fr), -1);
    live_fetch_result_free(&fr);
    free(big);
}

static void test_gunzip(void **state)
{
    static const char text[] = "a fetch result, compressed";
    uint8_t *z, *out, *bad;
    size_t zn, n;

    (void)state;
    z = gz(text, sizeof(text), &zn);
    assert_int_equal(live_gunzip(z, zn, LIVE_WEBCAST_MAX_INFLATED, &out, &n), 0);
    assert_int_equal(n, sizeof(text));
    assert_memory_equal(out, text, n);
    free(out);
    /* Exactly max fits; one byte less does not. */
    assert_int_equal(live_gunzip(z, zn, sizeof(text), &out, &n), 0);
    free(out);
    assert_int_equal(live_gunzip(z, zn, sizeof(text) - 1, &out, &n), -1);
    assert_null(out);
    assert_int_equal(n, 0);
    /* Truncated members, a broken CRC, no gzip at all, nothing. */
    for (size_t cut = 0; cut < zn; cut++)
        assert_int_equal(live_gunzip(z, cut, 1024, &out, &n), -1);
    bad = malloc(zn);
    memcpy(bad, z, zn);
    bad[zn - 6] ^= 0xff;                                /* CRC32 */
    assert_int_equal(live_gunzip(bad, zn, 1024, &out, &n), -1);
    memcpy(bad, z, zn);
    bad[12] ^= 0x55;                                    /* deflate data */
    assert_int_equal(live_gunzip(bad, zn, 1024, &out, &n), -1);
    free(bad);
    assert_int_equal(live_gunzip((const uint8_t *)"plain text", 10, 1024, &out, &n), -1);
    assert_int_equal(live_gunzip(NULL, 0, 1024, &out, &n), -1);
    free(z);
    /* An empty member inflates to nothing. */
    z = gz("", 0, &zn);
    assert_int_equal(live_gunzip(z, zn, 1024, &out, &n), 0);
    assert_int_equal(n, 0);
    free(out);
    free(z);
}

/* 16 MiB of zeros in ~16 KiB: refused at LIVE_WEBCAST_MAX_INFLATED, no 16 MiB buffer. */
static void test_gunzip_bomb(void **state)
{
    static uint8_t zeros[1 << 16];
    z_stream zs;
    size_t cap = 1 << 20, n;
    uint8_t *z = malloc(cap), *out;

    (void)state;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + 15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_out = z;
    zs.avail_out = (uInt)cap;
    for (int i = 0; i < 256; i++) {
        zs.next_in = zeros;
        zs.avail_in = sizeof(zeros);
        assert_int_equal(deflate(&zs, i == 255 ? Z_FINISH : Z_NO_FLUSH),
                         i == 255 ? Z_STREAM_END : Z_OK);
    }
    n = zs.total_out;
    deflateEnd(&zs);
    assert_true(n < 64 * 1024);
    assert_int_equal(live_gunzip(z, n, LIVE_WEBCAST_MAX_INFLATED, &out, &n), -1);
    assert_null(out);
    free(z);
}

/* ---- client frames ------------------------------------------------------------------ */

static void test_client_frames(void **state)
{
    /* Room 7301 is the varint 85 39. */
    static const char enter[] = "\x3a\x0d" "im_enter_room" "\x42\x12\x08\x85\x39\x20\x0c\x2a\x08"
                                "audience" "\x40\xac\x02";            /* enter id 300 */
    static const char hb[] = "\x3a\x02" "hb" "\x42\x05\x08\x85\x39\x10\x03";
    static const char ack[] = "\x10\x4d\x3a\x03" "ack" "\x42\x02" "xy";
    live_pb_writer_t w;
    live_push_frame_t pf;

    (void)state;
    live_pb_writer_init(&w, 4096);
    assert_int_equal(live_webcast_enter_room(&w, "7301", 300), 0);
    assert_int_equal(w.len, sizeof(enter) - 1);
    assert_memory_equal(w.buf, enter, w.len);
    assert_int_equal(live_push_frame_decode(w.buf, w.len, &pf), 0);
    assert_string_equal(pf.payload_type, "im_enter_room");
    assert_int_equal(pf.payload_len, 0x12);
    live_pb_writer_free(&w);
    live_pb_writer_init(&w, 4096);                      /* no enter id: no field 8 */
    assert_int_equal(live_webcast_enter_room(&w, "7301", 0), 0);
    assert_int_equal(w.len, sizeof(enter) - 1 - 3);
    assert_int_equal(w.buf[16], 0x0f);
    live_pb_writer_free(&w);

    live_pb_writer_init(&w, 4096);
    assert_int_equal(live_webcast_heartbeat(&w, "7301", 3), 0);
    assert_int_equal(w.len, sizeof(hb) - 1);
    assert_memory_equal(w.buf, hb, w.len);
    live_pb_writer_free(&w);

    live_pb_writer_init(&w, 4096);
    assert_int_equal(live_webcast_ack(&w, 77, (const uint8_t *)"xy", 2), 0);
    assert_int_equal(w.len, sizeof(ack) - 1);
    assert_memory_equal(w.buf, ack, w.len);
    assert_int_equal(live_push_frame_decode(w.buf, w.len, &pf), 0);
    assert_int_equal(pf.log_id, 77);
    assert_string_equal(pf.payload_type, "ack");
    live_pb_writer_free(&w);
    live_pb_writer_init(&w, 4096);                      /* no internal_ext: an empty payload */
    assert_int_equal(live_webcast_ack(&w, 0, NULL, 0), 0);
    assert_memory_equal(w.buf, "\x10\x00\x3a\x03" "ack" "\x42\x00", 9);
    live_pb_writer_free(&w);

    /* Room ids that are no decimal 64-bit number; a writer too small. */
    static const char *const bad[] = { "", "12a", "-1", " 1", "18446744073709551616",
                                       "123456789012345678901" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        live_pb_writer_init(&w, 4096);
        assert_int_equal(live_webcast_enter_room(&w, bad[i], 1), -1);
        assert_int_equal(live_webcast_heartbeat(&w, bad[i], 1), -1);
        assert_int_equal(w.failed, 1);
        live_pb_writer_free(&w);
    }
    live_pb_writer_init(&w, 4096);
    assert_int_equal(live_webcast_heartbeat(&w, "18446744073709551615", 1), 0);
    live_pb_writer_free(&w);
    live_pb_writer_init(&w, 20);
    assert_int_equal(live_webcast_enter_room(&w, "7301", 300), -1);
    assert_int_equal(live_webcast_ack(&w, 1, NULL, 0), -1);    /* the failure sticks */
    live_pb_writer_free(&w);
    live_pb_writer_init(&w, 4096);
    assert_int_equal(live_webcast_ack(&w, 1, NULL, 5), -1);
    live_pb_writer_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_types),
        cmocka_unit_test(test_varints),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_limits),
        cmocka_unit_test(test_push_frame),
        cmocka_unit_test(test_push_frame_malformed),
        cmocka_unit_test(test_gunzip),
        cmocka_unit_test(test_gunzip_bomb),
        cmocka_unit_test(test_client_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
