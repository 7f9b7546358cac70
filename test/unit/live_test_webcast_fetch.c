/* TikTok webcast fetch results (ProtoMessageFetchResult, sidecar/tiktok/webcast_frame.c)
 * against protobuf bytes built by hand (live_webcast_builder.h, not pb.c's writer): messages,
 * route params, ack data, the push server, limits and malformed ones. Event messages and a
 * push frame through the whole chain: live_test_webcast.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tiktok/webcast.h"
#include "live_webcast_builder.h"

static void tb_route(tb_t *fr, const char *k, const char *v)
{
    tb_t e = { 0 };
    tb_s(&e, 1, k);
    tb_s(&e, 2, v);
    tb_m(fr, 7, &e);
}

/* ---- fetch results ------------------------------------------------------------------- */

static void test_fetch_result(void **state)
{
    tb_t fr = { 0 }, m = { 0 }, p = { 0 };
    live_fetch_result_t r;
    char longv[600] = "";

    (void)state;
    tb_raw(&p, "chat-bytes", 10);
    tb_env(&fr, "WebcastChatMessage", p, 7301946211000042795ULL);
    tb_s(&m, 1, "WebcastSomethingNew");
    tb_u(&m, 3, 42);
    tb_u(&m, 6, 1);
    tb_m(&fr, 1, &m);
    tb_raw(&m, "\x0a\x05" "ab", 4);                     /* an envelope that does not decode */
    tb_m(&fr, 1, &m);
    tb_b(&m, 1, "Bad\x01Name\xff", 9);                  /* a method with odd bytes */
    tb_m(&fr, 1, &m);
    tb_s(&fr, 2, "1700000000000_cursor");
    tb_u(&fr, 3, 1000);
    tb_u(&fr, 4, 1764000000123ULL);
    tb_b(&fr, 5, "ext\0bin", 7);
    tb_u(&fr, 6, 1);
    tb_route(&fr, "room_id", "111");
    tb_route(&fr, "cursor", "t-1");
    tb_route(&fr, "room_id", "7301");                   /* repeated key: the last wins */
    memset(longv, 'v', sizeof(longv) - 1);
    tb_route(&fr, "too_long", longv);                   /* skipped */
    tb_route(&fr, "", "x");                             /* skipped */
    tb_u(&fr, 8, 10000);
    tb_u(&fr, 9, 1);
    tb_s(&fr, 10, "wss://webcast.example/webcast/im/push/v2/");
    tb_u(&fr, 11, 1);
    tb_s(&fr, 12, "history");
    tb_u(&fr, 13, 1);

    assert_int_equal(live_fetch_result_decode(fr.b, fr.n, &r), 0);
    assert_int_equal(r.n_messages, 4);
    assert_string_equal(r.messages[0].method, "WebcastChatMessage");
    assert_int_equal(r.messages[0].payload_len, 10);
    assert_memory_equal(r.messages[0].payload, "chat-bytes", 10);
    assert_true(r.messages[0].msg_id == 7301946211000042795LL);
    assert_string_equal(r.messages[1].method, "WebcastSomethingNew");
    assert_int_equal(r.messages[1].msg_id, 42);
    assert_string_equal(r.messages[2].method, "");
    assert_string_equal(r.messages[3].method, "Bad?Name?");
    assert_string_equal(r.cursor, "1700000000000_cursor");
    assert_int_equal(r.fetch_interval_ms, 1000);
    assert_true(r.now_ms == 1764000000123LL);
    assert_int_equal(r.internal_ext_len, 7);
    assert_memory_equal(r.internal_ext, "ext\0bin", 7);
    assert_int_equal(r.n_route, 2);
    assert_string_equal(r.route[0].key, "room_id");
    assert_string_equal(r.route[0].value, "7301");
    assert_string_equal(r.route[1].key, "cursor");
    assert_string_equal(r.route[1].value, "t-1");
    assert_int_equal(r.heartbeat_ms, 10000);
    assert_int_equal(r.need_ack, 1);
    assert_int_equal(r.is_first, 1);
    assert_string_equal(r.push_server, "wss://webcast.example/webcast/im/push/v2/");
    {
        live_event_t *ev;
        assert_int_equal(live_webcast_decode(&r.messages[1], &ev, NULL), LIVE_WC_UNKNOWN);
        assert_int_equal(live_webcast_decode(&r.messages[2], &ev, NULL), LIVE_WC_MALFORMED);
        assert_null(ev);
    }
    live_fetch_result_free(&r);
    live_fetch_result_free(&r);                         /* twice is harmless */
    free(fr.b);
}

static void test_fetch_result_malformed(void **state)
{
    tb_t fr = { 0 }, e = { 0 };
    live_fetch_result_t r;

    (void)state;
    tb_b(&fr, 5, "ext", 3);
    tb_raw(&fr, "\x0a\x10" "abc", 5);                   /* a message cut short */
    assert_int_equal(live_fetch_result_decode(fr.b, fr.n, &r), -1);
    assert_null(r.internal_ext);                        /* freed and zeroed */
    assert_int_equal(r.n_messages, 0);
    live_fetch_result_free(&r);
    tb_free(&fr);
    tb_u(&fr, 1, 3);                                    /* messages as a varint */
    assert_int_equal(live_fetch_result_decode(fr.b, fr.n, &r), -1);
    tb_free(&fr);
    tb_s(&fr, 9, "yes");                                /* need_ack as bytes */
    assert_int_equal(live_fetch_result_decode(fr.b, fr.n, &r), -1);
    tb_free(&fr);
    tb_u(&e, 1, 1);                                     /* a route key as a varint */
    tb_m(&fr, 7, &e);
    assert_int_equal(live_fetch_result_decode(fr.b, fr.n, &r), -1);
    tb_free(&fr);
    /* A push server with a space or a NUL is dropped, the rest stands. */
    tb_s(&fr, 10, "wss://a b/");
    tb_u(&fr, 8, 5);
    assert_int_equal(live_fetch_result_decode(fr.b, fr.n, &r), 0);
    assert_string_equal(r.push_server, "");
    assert_int_equal(r.heartbeat_ms, 5);
    live_fetch_result_free(&r);
    free(fr.b);
}

static void test_fetch_result_limits(void **state)
{
    tb_t fr = { 0 };
    live_fetch_result_t r;
    char key[16];

    (void)state;
    for (int i = 0; i < LIVE_WEBCAST_MAX_MESSAGES + 10; i++)
        tb_env(&fr, "WebcastLikeMessage", (tb_t){ 0 }, (uint64_t)i + 1);
    for (int i = 0; i < LIVE_WEBCAST_MAX_ROUTE + 5; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        tb_route(&fr, key, "v");
    }
    tb_u(&fr, 9, 1);                                    /* fields after the limits still count */
    assert_int_equal(live_fetch_result_decode(fr.b, fr.n, &r), 0);
    assert_int_equal(r.n_messages, LIVE_WEBCAST_MAX_MESSAGES);
    assert_int_equal(r.messages[LIVE_WEBCAST_MAX_MESSAGES - 1].msg_id, LIVE_WEBCAST_MAX_MESSAGES);
    assert_int_equal(r.n_route, LIVE_WEBCAST_MAX_ROUTE);
    assert_string_equal(r.route[LIVE_WEBCAST_MAX_ROUTE - 1].value, "v");
    assert_int_equal(r.need_ack, 1);
    live_fetch_result_free(&r);
    free(fr.b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_result),
        cmocka_unit_test(test_fetch_result_malformed),
        cmocka_unit_test(test_fetch_result_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
