/* libFuzzer target for the TikTok webcast decoder (sidecar/tiktok/webcast_*.c, pb.c): the
 * input is decoded as a push frame (gunzip when gzip, then a fetch result and every message
 * with live_webcast_decode, each event rendered), directly as a fetch result, and - its first
 * byte choosing the method - as the payload of one event message. Acks are encoded and read
 * back. Everything decoded is freed, so leaks show up too.
 *
 * Built by `make build/fuzz/fuzz_webcast` (clang, -fsanitize=fuzzer,address,undefined);
 * `make fuzz-smoke` runs it briefly on the corpus the fake writes (./dev test does),
 * `make fuzz FUZZ_TIME=<seconds>` for longer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events/event.h"
#include "tiktok/pb.h"
#include "tiktok/webcast.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static const char *const methods[] = {
    "WebcastChatMessage", "WebcastMemberMessage", "WebcastLikeMessage",
    "WebcastGiftMessage", "WebcastSocialMessage", "WebcastRoomUserSeqMessage",
    "WebcastControlMessage", "WebcastSomethingElse"
};

/* One message: the kind and *ev agree, an event renders to bounded JSON. */
static void decode_message(const live_webcast_msg_t *m)
{
    live_event_t *ev = (live_event_t *)1;
    int action = -1;
    live_wc_kind_t k = live_webcast_decode(m, &ev, &action);
    size_t len;
    char *json;

    CHECK(k >= LIVE_WC_EVENT && k <= LIVE_WC_MALFORMED);
    CHECK((k == LIVE_WC_EVENT) == (ev != NULL));
    CHECK(k != LIVE_WC_END || action == 3 || action == 4);
    if (!ev)
        return;
    CHECK(ev->type < LIVE_EV__COUNT && ev->type != LIVE_EV_STATUS);
    CHECK(strlen(ev->upstream_id) <= LIVE_UPSTREAM_ID_MAX);
    json = live_event_render(ev, "fuzz", 1, &len);
    CHECK(json != NULL && len <= LIVE_EVENT_JSON_MAX && strlen(json) == len);
    free(json);
    live_event_free(ev);
}

static void decode_fetch(const uint8_t *buf, size_t len, uint64_t log_id)
{
    live_fetch_result_t r;

    if (live_fetch_result_decode(buf, len, &r) == 0) {
        CHECK(r.n_messages >= 0 && r.n_messages <= LIVE_WEBCAST_MAX_MESSAGES);
        CHECK(r.n_route >= 0 && r.n_route <= LIVE_WEBCAST_MAX_ROUTE);
        for (int i = 0; i < r.n_messages; i++) {
            const live_webcast_msg_t *m = &r.messages[i];
            CHECK(m->payload_len == 0 || (m->payload >= buf &&
                                          m->payload + m->payload_len <= buf + len));
            decode_message(m);
        }
        if (r.need_ack) {                           /* what the client would send back */
            live_pb_writer_t w;
            live_push_frame_t pf;
            live_pb_writer_init(&w, LIVE_WEBCAST_MAX_FRAME);
            if (live_webcast_ack(&w, log_id, r.internal_ext, r.internal_ext_len) == 0) {
                CHECK(live_push_frame_decode(w.buf, w.len, &pf) == 0);
                CHECK(pf.log_id == log_id && strcmp(pf.payload_type, "ack") == 0);
                CHECK(pf.payload_len == r.internal_ext_len);
            }
            live_pb_writer_free(&w);
        }
    }
    live_fetch_result_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    live_push_frame_t pf;

    if (live_push_frame_decode(data, size, &pf) == 0 && pf.payload) {
        CHECK(pf.payload >= data && pf.payload + pf.payload_len <= data + size);
        if (pf.gzip) {
            uint8_t *plain;
            size_t n;
            if (live_gunzip(pf.payload, pf.payload_len, LIVE_WEBCAST_MAX_INFLATED, &plain,
                            &n) == 0) {
                CHECK(n <= LIVE_WEBCAST_MAX_INFLATED);
                decode_fetch(plain, n, pf.log_id);
                free(plain);
            }
        } else {
            decode_fetch(pf.payload, pf.payload_len, pf.log_id);
        }
    }
    decode_fetch(data, size, 0);
    if (size > 0) {
        live_webcast_msg_t m;
        memset(&m, 0, sizeof(m));
        strcpy(m.method, methods[data[0] % (sizeof(methods) / sizeof(methods[0]))]);
        m.payload = data + 1;
        m.payload_len = size - 1;
        decode_message(&m);
    }
    return 0;
}
