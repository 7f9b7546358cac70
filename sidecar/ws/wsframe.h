/* Server → client WebSocket text frames built by hand (RFC 6455 §5.2) so that several
 * complete frames leave in one write: FIN + text opcode (0x81), no mask, the payload length
 * in 7 bits, or 126 + 16 bits, or 127 + 64 bits (top bit 0). A batch lays such frames end to
 * end in one reusable buffer, after `headroom` free bytes (libwebsockets' LWS_PRE). Pure
 * code, no libwebsockets. Only valid on a connection without extensions (no
 * permessage-deflate: its frames would need RSV1 and compressed payloads). */
#ifndef LIVE_WSFRAME_H
#define LIVE_WSFRAME_H

#include <stddef.h>

#define LIVE_WSFRAME_HDR_MAX 10           /* the longest frame header */

/* The header of a FIN text frame of len payload bytes, written to hdr (at least
 * LIVE_WSFRAME_HDR_MAX bytes). Returns its length: 2, 4 or 10. */
size_t live_wsframe_header(unsigned char *hdr, size_t len);
/* Header + payload bytes of such a frame (0 when that would overflow size_t). */
size_t live_wsframe_size(size_t len);

typedef struct {
    unsigned char *mem;                   /* headroom + frames; owned, kept between batches */
    size_t mem_len;
    size_t headroom;
    unsigned char *buf;                   /* mem + headroom: where the first frame starts */
    size_t cap;                           /* bytes this batch may hold */
    size_t len;                           /* bytes it holds */
    unsigned frames, max_frames;          /* max_frames 0: no limit */
} live_wsbatch_t;                         /* zero-initialised = empty, nothing allocated */

/* Starts an empty batch of at most cap bytes and max_frames frames (0: no frame limit); the
 * memory grows to headroom + cap when needed, never shrinks. 0, or -1 out of memory. */
int  live_wsbatch_begin(live_wsbatch_t *b, size_t headroom, size_t cap, unsigned max_frames);
/* Appends one text frame carrying payload[0..len): 1 added, 0 full (the batch unchanged),
 * -1 out of memory. A frame larger than cap is taken alone, into an empty batch (the memory
 * grows to fit it), so any frame can be sent. */
int  live_wsbatch_add(live_wsbatch_t *b, const char *payload, size_t len);
void live_wsbatch_free(live_wsbatch_t *b);

#endif
