/* TikTok webcast event decoding (sidecar/tiktok/webcast_events.c) against protobuf bytes
 * built by hand (live_webcast_builder.h, not pb.c's writer): every event message (users, ids
 * and times, gift streaks, Control ends, unknown methods, malformed payloads), ending with a
 * push frame through the whole chain. Fetch results: live_test_webcast_fetch.c; frames, gzip
 * and gunzip: live_test_pb.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/clock.h"
#include "tiktok/webcast.h"
#include "live_webcast_builder.h"

/* ---- payload builders and event field readers ---------------------------------------- */

static tb_t common_pb(uint64_t msg_id, uint64_t create_ms)
{
    tb_t c = { 0 };
    tb_s(&c, 1, "WebcastChatMessage");
    if (msg_id)
        tb_u(&c, 2, msg_id);
    tb_u(&c, 3, 7301000000000000001ULL);
    if (create_ms)
        tb_u(&c, 4, create_ms);
    return c;
}

static tb_t user_pb(uint64_t id, const char *nick, const char *handle, const char *avatar)
{
    tb_t u = { 0 }, img = { 0 }, follow = { 0 };
    if (id)
        tb_u(&u, 1, id);
    if (nick)
        tb_s(&u, 3, nick);
    tb_s(&u, 5, "bio text");
    if (avatar) {
        tb_s(&img, 1, avatar);
        tb_s(&img, 1, "https://second.example/a.jpg");
        tb_s(&img, 2, "tos-avt/123");
        tb_m(&u, 9, &img);
    }
    tb_u(&follow, 1, 10);
    tb_u(&follow, 2, 20);
    tb_m(&u, 22, &follow);
    if (handle)
        tb_s(&u, 38, handle);
    tb_s(&u, 46, "MS4wLjABAAAA");
    return u;
}

static json_int_t f_int(const live_event_t *ev, const char *k)
{
    json_t *v = json_object_get(ev->fields, k);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static const char *f_str(const live_event_t *ev, const char *k)
{
    json_t *v = json_object_get(ev->fields, k);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static live_wc_kind_t decode(const char *method, tb_t *t, int64_t id, live_event_t **ev,
                             int *action)
{
    live_webcast_msg_t m = { .payload = t->b, .payload_len = t->n, .msg_id = id };

    snprintf(m.method, sizeof(m.method), "%s", method);
    return live_webcast_decode(&m, ev, action);
}

/* ---- event messages ------------------------------------------------------------------ */

#define AVATAR "https://p16-sign-va.tiktokcdn.com/avt/51dd~c5_100x100.jpeg"

static void test_chat(void **state)
{
    tb_t t = { 0 };
    live_event_t *ev;
    int64_t before = live_now_us();
    static char txt[3001];

    (void)state;
    tb_mv(&t, 1, common_pb(111, 1764000000123ULL));
    tb_mv(&t, 2, user_pb(7372291507698781278ULL, "In\xc3\xaas", "@Ines.World", AVATAR));
    tb_s(&t, 3, "hello \xf0\x9f\x98\x8d");
    tb_s(&t, 14, "fr");
    assert_int_equal(decode("WebcastChatMessage", &t, 999, &ev, NULL), LIVE_WC_EVENT);
    assert_int_equal(ev->type, LIVE_EV_COMMENT);
    assert_string_equal(ev->upstream_id, "999");                 /* the envelope's id first */
    assert_true(ev->created_us == 1764000000123000LL);
    assert_string_equal(ev->user_id, "7372291507698781278");
    assert_string_equal(ev->username, "ines.world");
    assert_string_equal(ev->nickname, "In\xc3\xaas");
    assert_string_equal(ev->avatar_url, AVATAR);
    assert_string_equal(f_str(ev, "text"), "hello \xf0\x9f\x98\x8d");
    live_event_free(ev);
    /* No envelope id: the common one. */
    assert_int_equal(decode("WebcastChatMessage", &t, 0, &ev, NULL), LIVE_WC_EVENT);
    assert_string_equal(ev->upstream_id, "111");
    live_event_free(ev);
    tb_free(&t);

    /* No common data: no id, the time is now; a handle that is no username: no user;
     * invalid UTF-8 and NULs become U+FFFD. */
    tb_mv(&t, 2, user_pb(5, "Nick", "not a name!", AVATAR));
    tb_b(&t, 3, "a\xff" "b\0c", 5);
    assert_int_equal(decode("WebcastChatMessage", &t, 0, &ev, NULL), LIVE_WC_EVENT);
    assert_string_equal(ev->upstream_id, "");
    assert_true(ev->created_us >= before && ev->created_us <= live_now_us());
    assert_null(ev->user_id);
    assert_null(ev->username);
    assert_string_equal(f_str(ev, "text"), "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c");
    live_event_free(ev);
    tb_free(&t);

    /* No handle: the user without username; a non-http avatar is dropped; a time beyond
     * year 9999 is now. Long text is cut on a character boundary. */
    tb_mv(&t, 1, common_pb(0, 400000000000000ULL));
    tb_mv(&t, 2, user_pb(5, "Nick", NULL, "ftp://x/y.jpg"));
    for (int i = 0; i < 3000; i += 3)
        memcpy(txt + i, "\xe2\x82\xac", 3);                   /* € */
    tb_s(&t, 3, txt);
    assert_int_equal(decode("WebcastChatMessage", &t, 0, &ev, NULL), LIVE_WC_EVENT);
    assert_true(ev->created_us >= before);
    assert_string_equal(ev->user_id, "5");
    assert_null(ev->username);
    assert_string_equal(ev->nickname, "Nick");
    assert_null(ev->avatar_url);
    assert_int_equal(strlen(f_str(ev, "text")), LIVE_TEXT_MAX / 3 * 3);
    live_event_free(ev);
    free(t.b);
}

static void test_member_like(void **state)
{
    tb_t t = { 0 };
    live_event_t *ev;

    (void)state;
    tb_mv(&t, 1, common_pb(7, 1764000000000ULL));
    tb_mv(&t, 2, user_pb(9, "N", "bob_1", NULL));
    tb_u(&t, 3, 500);                                   /* member_count */
    tb_u(&t, 10, 1);
    assert_int_equal(decode("WebcastMemberMessage", &t, 0, &ev, NULL), LIVE_WC_EVENT);
    assert_int_equal(ev->type, LIVE_EV_JOIN);
    assert_string_equal(ev->username, "bob_1");
    assert_int_equal(json_object_size(ev->fields), 0);
    live_event_free(ev);
    tb_u(&t, 10, 2);                                    /* the last action wins: not a join */
    assert_int_equal(decode("WebcastMemberMessage", &t, 0, &ev, NULL), LIVE_WC_IGNORED);
    assert_null(ev);
    tb_free(&t);
    tb_u(&t, 2, 13);
    tb_u(&t, 3, 12866);
    tb_mv(&t, 5, user_pb(9, "N", "bob_1", NULL));
    assert_int_equal(decode("WebcastLikeMessage", &t, 8, &ev, NULL), LIVE_WC_EVENT);
    assert_int_equal(ev->type, LIVE_EV_LIKE);
    assert_int_equal(f_int(ev, "count"), 13);
    assert_int_equal(f_int(ev, "total"), 12866);
    assert_string_equal(ev->username, "bob_1");
    live_event_free(ev);
    tb_free(&t);
    /* No total: null; a negative count and a huge total are clamped. */
    tb_u(&t, 2, (uint64_t)-5);
    assert_int_equal(decode("WebcastLikeMessage", &t, 8, &ev, NULL), LIVE_WC_EVENT);
    assert_int_equal(f_int(ev, "count"), 0);
    assert_true(json_is_null(json_object_get(ev->fields, "total")));
    assert_null(ev->user_id);
    live_event_free(ev);
    tb_u(&t, 3, UINT64_MAX >> 1);
    assert_int_equal(decode("WebcastLikeMessage", &t, 8, &ev, NULL), LIVE_WC_EVENT);
    assert_true(f_int(ev, "total") == ((json_int_t)1 << 53));
    live_event_free(ev);
    free(t.b);
}

static tb_t gift_pb(uint64_t gift_id, uint64_t repeat, uint64_t end, uint64_t inner_id,
                    uint64_t diamonds, const char *name)
{
    tb_t t = { 0 }, g = { 0 };
    tb_mv(&t, 1, common_pb(0, 1764000000000ULL));
    if (gift_id)
        tb_u(&t, 2, gift_id);
    tb_u(&t, 5, repeat);
    tb_mv(&t, 7, user_pb(3, "A", "ana.daily", NULL));
    tb_u(&t, 9, end);
    tb_u(&g, 5, inner_id);
    tb_u(&g, 12, diamonds);
    if (name)
        tb_s(&g, 16, name);
    tb_m(&t, 15, &g);
    return t;
}

static void test_gift_streak(void **state)
{
    live_event_t *ev;
    tb_t t;

    (void)state;
    for (uint64_t i = 1; i <= 3; i++) {                 /* the streak goes on: nothing */
        t = gift_pb(5655, i, 0, 5655, 1, "Rose");
        assert_int_equal(decode("WebcastGiftMessage", &t, (int64_t)i, &ev, NULL),
                         LIVE_WC_IGNORED);
        assert_null(ev);
        free(t.b);
    }
    t = gift_pb(5655, 10, 1, 5655, 1, "Rose");          /* its end: one gift event */
    assert_int_equal(decode("WebcastGiftMessage", &t, 4, &ev, NULL), LIVE_WC_EVENT);
    assert_int_equal(ev->type, LIVE_EV_GIFT);
    assert_int_equal(f_int(ev, "gift_id"), 5655);
    assert_string_equal(f_str(ev, "gift_name"), "Rose");
    assert_int_equal(f_int(ev, "count"), 10);
    assert_int_equal(f_int(ev, "diamonds"), 10);
    assert_string_equal(ev->username, "ana.daily");
    assert_string_equal(ev->upstream_id, "4");
    live_event_free(ev);
    free(t.b);
    /* The gift's own id when field 2 is missing; repeat_count 0 counts once; no name: "". */
    t = gift_pb(0, 0, 1, 6064, 99, NULL);
    assert_int_equal(decode("WebcastGiftMessage", &t, 5, &ev, NULL), LIVE_WC_EVENT);
    assert_int_equal(f_int(ev, "gift_id"), 6064);
    assert_string_equal(f_str(ev, "gift_name"), "");
    assert_int_equal(f_int(ev, "count"), 1);
    assert_int_equal(f_int(ev, "diamonds"), 99);
    live_event_free(ev);
    free(t.b);
    /* Absurd numbers are clamped, not overflowed. */
    t = gift_pb(1, UINT64_MAX >> 1, 1, 1, UINT64_MAX >> 2, "X");
    assert_int_equal(decode("WebcastGiftMessage", &t, 6, &ev, NULL), LIVE_WC_EVENT);
    assert_int_equal(f_int(ev, "count"), 2147483647);
    assert_true(f_int(ev, "diamonds") == ((json_int_t)1 << 53));
    live_event_free(ev);
    free(t.b);
    /* repeat_end other than 1 is no end. */
    t = gift_pb(1, 1, 2, 1, 1, "X");
    assert_int_equal(decode("WebcastGiftMessage", &t, 6, &ev, NULL), LIVE_WC_IGNORED);
    free(t.b);
}

static void test_social_viewers_control(void **state)
{
    static const struct { uint64_t action; live_wc_kind_t kind; live_event_type_t type; }
    social[] = { { 1, LIVE_WC_EVENT, LIVE_EV_FOLLOW }, { 3, LIVE_WC_EVENT, LIVE_EV_SHARE },
                 { 2, LIVE_WC_IGNORED, 0 }, { 0, LIVE_WC_IGNORED, 0 } };
    live_event_t *ev;
    tb_t t;
    int action;

    (void)state;
    for (size_t i = 0; i < sizeof(social) / sizeof(social[0]); i++) {
        memset(&t, 0, sizeof(t));
        tb_mv(&t, 2, user_pb(4, "C", "carol", NULL));
        tb_u(&t, 3, 2);                                 /* share_type */
        if (social[i].action)
            tb_u(&t, 4, social[i].action);
        assert_int_equal(decode("WebcastSocialMessage", &t, 1, &ev, NULL), social[i].kind);
        if (ev) {
            assert_int_equal(ev->type, social[i].type);
            assert_string_equal(ev->username, "carol");
            live_event_free(ev);
        }
        free(t.b);
    }

    memset(&t, 0, sizeof(t));
    tb_mv(&t, 1, common_pb(55, 1764000000500ULL));
    tb_u(&t, 3, 817);
    assert_int_equal(decode("WebcastRoomUserSeqMessage", &t, 0, &ev, NULL), LIVE_WC_EVENT);
    assert_int_equal(ev->type, LIVE_EV_VIEWERS);
    assert_int_equal(f_int(ev, "viewers"), 817);
    assert_string_equal(ev->upstream_id, "55");
    assert_null(ev->user_id);
    live_event_free(ev);
    free(t.b);

    for (uint64_t a = 0; a <= 5; a++) {
        memset(&t, 0, sizeof(t));
        tb_mv(&t, 1, common_pb(56, 0));
        tb_u(&t, 2, a);
        action = -1;
        assert_int_equal(decode("WebcastControlMessage", &t, 0, &ev, &action),
                         a == 3 || a == 4 ? LIVE_WC_END : LIVE_WC_IGNORED);
        assert_null(ev);
        assert_int_equal(action, (int)a);
        assert_int_equal(decode("WebcastControlMessage", &t, 0, &ev, NULL),
                         a == 3 || a == 4 ? LIVE_WC_END : LIVE_WC_IGNORED);
        free(t.b);
    }
}

static void test_unknown_malformed(void **state)
{
    static const char *const known[] = {
        "WebcastChatMessage", "WebcastMemberMessage", "WebcastLikeMessage",
        "WebcastGiftMessage", "WebcastSocialMessage", "WebcastRoomUserSeqMessage",
        "WebcastControlMessage"
    };
    tb_t t = { 0 }, c = { 0 }, u = { 0 }, img = { 0 }, g = { 0 };
    live_webcast_msg_t m;
    live_event_t *ev;

    (void)state;
    tb_s(&t, 3, "x");
    assert_int_equal(decode("WebcastLinkMicBattle", &t, 1, &ev, NULL), LIVE_WC_UNKNOWN);
    assert_int_equal(decode("webcastchatmessage", &t, 1, &ev, NULL), LIVE_WC_UNKNOWN);
    assert_int_equal(decode("", &t, 1, &ev, NULL), LIVE_WC_MALFORMED);
    memset(&m, 'W', sizeof(m));                         /* a method without its NUL */
    m.payload = t.b;
    m.payload_len = t.n;
    assert_int_equal(live_webcast_decode(&m, &ev, NULL), LIVE_WC_MALFORMED);
    free(t.b);
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        tb_t bad = { 0 };
        tb_raw(&bad, "\x0a\x05" "ab", 4);                  /* truncated */
        assert_int_equal(decode(known[i], &bad, 1, &ev, NULL), LIVE_WC_MALFORMED);
        tb_free(&bad);
        tb_u(&bad, 1, 3);                                   /* common as a varint */
        assert_int_equal(decode(known[i], &bad, 1, &ev, NULL), LIVE_WC_MALFORMED);
        tb_free(&bad);
        tb_s(&c, 2, "id");                                  /* common.msg_id as bytes */
        tb_m(&bad, 1, &c);
        assert_int_equal(decode(known[i], &bad, 1, &ev, NULL), LIVE_WC_MALFORMED);
        tb_free(&bad);
        /* An empty payload is a valid (all default) message. */
        live_wc_kind_t k = decode(known[i], &bad, 1, &ev, NULL);
        assert_true(k == LIVE_WC_EVENT || k == LIVE_WC_IGNORED);
        live_event_free(ev);
    }
    /* Wrong wire types inside a user, its avatar, a gift. */
    memset(&t, 0, sizeof(t));
    tb_s(&u, 1, "123");
    tb_m(&t, 2, &u);
    assert_int_equal(decode("WebcastChatMessage", &t, 1, &ev, NULL), LIVE_WC_MALFORMED);
    tb_free(&t);
    tb_u(&img, 1, 5);
    tb_m(&u, 9, &img);
    tb_m(&t, 2, &u);
    assert_int_equal(decode("WebcastChatMessage", &t, 1, &ev, NULL), LIVE_WC_MALFORMED);
    tb_free(&t);
    tb_u(&t, 9, 1);
    tb_u(&g, 16, 5);
    tb_m(&t, 15, &g);
    assert_int_equal(decode("WebcastGiftMessage", &t, 1, &ev, NULL), LIVE_WC_MALFORMED);
    tb_free(&t);
    tb_s(&t, 3, "chat text as bytes is fine, but a text field as varint is not");
    tb_u(&t, 3, 1);
    assert_int_equal(decode("WebcastChatMessage", &t, 1, &ev, NULL), LIVE_WC_MALFORMED);
    free(t.b);
}

/* A push frame through the whole decoding chain. */
static void test_end_to_end(void **state)
{
    tb_t fr = { 0 }, f = { 0 }, h = { 0 }, p = { 0 };
    live_push_frame_t pf;
    live_fetch_result_t r;
    live_event_t *ev;
    int kinds[5] = { 0 }, action = 0;

    (void)state;
    tb_mv(&p, 1, common_pb(1, 1764000000000ULL));
    tb_mv(&p, 2, user_pb(2, "Z", "zed", AVATAR));
    tb_s(&p, 3, "hi");
    tb_env(&fr, "WebcastChatMessage", p, 1001);
    tb_env(&fr, "WebcastGiftMessage", gift_pb(5655, 1, 0, 5655, 1, "Rose"), 1002);
    tb_env(&fr, "WebcastGiftMessage", gift_pb(5655, 1, 1, 5655, 1, "Rose"), 1003);
    tb_env(&fr, "WebcastUnknownThing", (tb_t){ 0 }, 0);
    p = (tb_t){ 0 };
    tb_u(&p, 2, 3);
    tb_env(&fr, "WebcastControlMessage", p, 0);
    tb_b(&fr, 5, "ext", 3);
    tb_u(&fr, 9, 1);
    tb_u(&f, 2, 77);
    tb_s(&h, 1, "compress_type");
    tb_s(&h, 2, "none");
    tb_m(&f, 5, &h);
    tb_s(&f, 7, "msg");
    tb_m(&f, 8, &fr);

    assert_int_equal(live_push_frame_decode(f.b, f.n, &pf), 0);
    assert_int_equal(pf.gzip, 0);
    assert_int_equal(pf.log_id, 77);
    assert_string_equal(pf.payload_type, "msg");
    assert_int_equal(live_fetch_result_decode(pf.payload, pf.payload_len, &r), 0);
    assert_int_equal(r.n_messages, 5);
    assert_int_equal(r.need_ack, 1);
    for (int i = 0; i < r.n_messages; i++) {
        live_wc_kind_t k = live_webcast_decode(&r.messages[i], &ev, &action);
        kinds[k]++;
        if (k == LIVE_WC_EVENT) {
            assert_string_equal(ev->upstream_id, i == 0 ? "1001" : "1003");
            live_event_free(ev);
        }
    }
    assert_int_equal(kinds[LIVE_WC_EVENT], 2);
    assert_int_equal(kinds[LIVE_WC_IGNORED], 1);
    assert_int_equal(kinds[LIVE_WC_UNKNOWN], 1);
    assert_int_equal(kinds[LIVE_WC_END], 1);
    assert_int_equal(action, 3);
    live_fetch_result_free(&r);
    free(f.b);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat),
        cmocka_unit_test(test_member_like),
        cmocka_unit_test(test_gift_streak),
        cmocka_unit_test(test_social_viewers_control),
        cmocka_unit_test(test_unknown_malformed),
        cmocka_unit_test(test_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
