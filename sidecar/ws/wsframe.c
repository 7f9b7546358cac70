/* Hand-built server → client WebSocket text frames (see ws/wsframe.h): header encoding and
 * batches of complete frames in one reusable buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws/wsframe.h"

size_t live_wsframe_header(unsigned char *hdr, size_t len)
{
    uint64_t n = (uint64_t)len;

    hdr[0] = 0x81;                        /* FIN, RSV1-3 0 (no extension), opcode 1: text */
    if (n < 126) {
        hdr[1] = (unsigned char)n;        /* MASK bit 0: server frames are never masked */
        return 2;
    }
    if (n <= 0xffff) {
        hdr[1] = 126;
        hdr[2] = (unsigned char)(n >> 8);
        hdr[3] = (unsigned char)n;
        return 4;
    }
    hdr[1] = 127;
    for (int i = 0; i < 8; i++)           /* network byte order */
        hdr[2 + i] = (unsigned char)(n >> (56 - 8 * i));
    hdr[2] &= 0x7f;                       /* the 64-bit length's top bit must be 0 */
    return 10;
}

size_t live_wsframe_size(size_t len)
{
    size_t hdr = len < 126 ? 2 : len <= 0xffff ? 4 : 10;

    return len > SIZE_MAX - hdr ? 0 : len + hdr;
}

/* b->mem with room for headroom + cap bytes (b->buf follows). */
static int room(live_wsbatch_t *b, size_t cap)
{
    unsigned char *p;

    if (cap > SIZE_MAX - b->headroom)
        return -1;
    if (b->mem && b->mem_len >= b->headroom + cap)
        return 0;
    p = realloc(b->mem, b->headroom + cap);
    if (!p)
        return -1;
    b->mem = p;
    b->mem_len = b->headroom + cap;
    b->buf = p + b->headroom;
    return 0;
}

int live_wsbatch_begin(live_wsbatch_t *b, size_t headroom, size_t cap, unsigned max_frames)
{
    b->headroom = headroom;
    b->len = 0;
    b->frames = 0;
    b->cap = 0;
    b->max_frames = max_frames;
    if (room(b, cap) < 0)
        return -1;
    b->buf = b->mem + headroom;
    b->cap = cap;
    return 0;
}

int live_wsbatch_add(live_wsbatch_t *b, const char *payload, size_t len)
{
    size_t need = live_wsframe_size(len), h;

    if (!need)
        return b->frames ? 0 : -1;
    if (b->max_frames && b->frames >= b->max_frames)
        return 0;
    if (need > b->cap - b->len) {
        if (b->frames)
            return 0;
        if (room(b, need) < 0)            /* an oversized frame, alone */
            return -1;
        b->cap = need;
    }
    h = live_wsframe_header(b->buf + b->len, len);
    if (len)
        memcpy(b->buf + b->len + h, payload, len);
    b->len += h + len;
    b->frames++;
    return 1;
}

void live_wsbatch_free(live_wsbatch_t *b)
{
    free(b->mem);
    memset(b, 0, sizeof(*b));
}
