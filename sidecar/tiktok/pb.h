/* A minimal protobuf wire-format reader and writer: enough for TikTok's webcast messages,
 * bounded and allocation-free when reading (fields point into the input). */
#ifndef LIVE_PB_H
#define LIVE_PB_H

#include <stddef.h>
#include <stdint.h>

enum { LIVE_PB_VARINT = 0, LIVE_PB_I64 = 1, LIVE_PB_LEN = 2, LIVE_PB_I32 = 5 };

typedef struct {
    const uint8_t *p, *end;
} live_pb_reader_t;

typedef struct {
    uint32_t number;             /* field number (>= 1) */
    int wire;                    /* LIVE_PB_* */
    uint64_t varint;             /* VARINT, I64 and I32 values */
    const uint8_t *data;         /* LEN: the bytes (inside the input) */
    size_t len;
} live_pb_field_t;

void live_pb_reader_init(live_pb_reader_t *r, const uint8_t *buf, size_t len);
/* 1: *f holds the next field; 0: end of input; -1: malformed (truncated, bad wire type,
 * field number 0, varint longer than 10 bytes, groups). */
int  live_pb_next(live_pb_reader_t *r, live_pb_field_t *f);

/* Copies a string field (len bytes at s) into dst (size bytes) when it fits whole and holds
 * no NUL (with strict: only printable ASCII, no space); 0, else -1 and dst stays "". */
int  live_pb_copy_string(char *dst, size_t size, const uint8_t *s, size_t len, int strict);

/* A growing output buffer (bounded by max). Every writer returns -1 once an append fails
 * (out of memory or over max); the buffer then stays failed. */
typedef struct {
    uint8_t *buf;
    size_t len, cap, max;
    int failed;
} live_pb_writer_t;

void live_pb_writer_init(live_pb_writer_t *w, size_t max);
void live_pb_writer_free(live_pb_writer_t *w);
int  live_pb_put_varint(live_pb_writer_t *w, uint32_t number, uint64_t v);
int  live_pb_put_bytes(live_pb_writer_t *w, uint32_t number, const void *data, size_t len);
int  live_pb_put_string(live_pb_writer_t *w, uint32_t number, const char *s);

#endif
