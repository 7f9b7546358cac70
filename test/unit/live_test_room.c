/* The parsing of upstream answers (tiktok/room_parse.h): the live page's SIGI_STATE script
 * (tag attributes in any order, TikTok's \u002F escapes, captcha pages, decoys in other
 * scripts), the room API's JSON (ok, user not found, age restricted, garbage, status
 * values), the sign server's X-Set-TT-Cookie and JSON errors; and upstream.h's reasons. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tiktok/room_parse.h"
#include "tiktok/upstream.h"

static live_room_t room;
static char why[256];

static live_room_parse_t page(const char *html)
{
    why[0] = 'x';
    return live_room_parse_page(html, strlen(html), &room, why, sizeof why);
}

static live_room_parse_t api(const char *body)
{
    why[0] = 'x';
    return live_room_parse_api(body, strlen(body), &room, why, sizeof why);
}

static void expect_why(const char *fragment)
{
    if (strstr(why, fragment) == NULL)
        fail_msg("why '%s' lacks '%s'", why, fragment);
}

#define HEAD "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">" \
             "<script nonce=\"abc\">window.__x = '<script id=\"SIGI_STATE\">{}';</script>" \
             "<link rel=\"preload\" href=\"/a.js\"></head><body><div id=\"app\"></div>"

static void test_page_live(void **state)
{
    (void)state;
    /* A decoy in another script first; attributes in TikTok's order; '/' escaped. */
    assert_int_equal(page(HEAD
        "<script id=\"SIGI_STATE\" type=\"application/json\">{\"AppContext\":{\"appContext\":"
        "{\"language\":\"en\"}},\"LiveRoom\":{\"liveRoomUserInfo\":{\"user\":{\"avatarThumb\":"
        "\"https:\\u002F\\u002Fp16-sign.tiktokcdn.com\\u002Fa.jpeg\",\"id\":\"6812345\","
        "\"nickname\":\"Alice \\u003C3\",\"roomId\":\"7301234567890123456\",\"secUid\":\"MS4w\","
        "\"status\":2,\"uniqueId\":\"alice\"},\"stats\":{\"followerCount\":10}}}}</script>"
        "<script src=\"https:\\/\\/x/b.js\"></script></body></html>"), LIVE_ROOM_FOUND);
    assert_string_equal(room.room_id, "7301234567890123456");
    assert_int_equal(room.status, 2);

    /* Other attribute order, single quotes, upper-case tag, a number roomId and a string
     * status (paused). */
    assert_int_equal(page("<html><SCRIPT type='application/json' nonce=n1 id='SIGI_STATE' "
                          "crossorigin>\n {\"LiveRoom\":{\"liveRoomUserInfo\":{\"user\":"
                          "{\"roomId\":7301000000000000001,\"status\":\"3\"}}}} \n</SCRIPT>"),
                     LIVE_ROOM_FOUND);
    assert_string_equal(room.room_id, "7301000000000000001");
    assert_int_equal(room.status, 3);

    /* Unquoted id; no status at all (unknown). */
    assert_int_equal(page("<script id=SIGI_STATE>{\"LiveRoom\":{\"liveRoomUserInfo\":{\"user\":"
                          "{\"roomId\":\"42\"}}}}</script>"), LIVE_ROOM_FOUND);
    assert_string_equal(room.room_id, "42");
    assert_int_equal(room.status, 0);
}

static void test_page_offline(void **state)
{
    (void)state;
    assert_int_equal(page(HEAD "<script id=\"SIGI_STATE\" type=\"application/json\">"
                          "{\"LiveRoom\":{\"liveRoomUserInfo\":{\"user\":{\"roomId\":\"\","
                          "\"status\":4,\"uniqueId\":\"bob\"}}}}</script>"), LIVE_ROOM_NO_ROOM);
    assert_string_equal(room.room_id, "");
    assert_int_equal(room.status, 4);
    expect_why("no roomId (status 4)");
    assert_int_equal(page("<script id=\"SIGI_STATE\">{\"LiveRoom\":{\"liveRoomUserInfo\":"
                          "{\"user\":{\"roomId\":\"0\",\"status\":4}}}}</script>"),
                     LIVE_ROOM_NO_ROOM);
    assert_int_equal(page("<script id=\"SIGI_STATE\">{\"LiveRoom\":{\"liveRoomUserInfo\":"
                          "{\"user\":{\"roomId\":null}}}}</script>"), LIVE_ROOM_NO_ROOM);
    assert_int_equal(page("<script id=\"SIGI_STATE\">{\"LiveRoom\":{\"liveRoomUserInfo\":"
                          "{\"user\":{}}}}</script>"), LIVE_ROOM_NO_ROOM);
}

static void test_page_blocked(void **state)
{
    (void)state;
    /* A captcha / WAF page: scripts, but no SIGI_STATE. */
    assert_int_equal(page("<!DOCTYPE html><html><head><title>Security Check</title>"
                          "<script src=\"/captcha.js\"></script><script>var SIGI_STATE = 1;"
                          "</script></head><body><div id=\"captcha-verify\"></div></body>"
                          "</html>"), LIVE_ROOM_NO_SCRIPT);
    expect_why("no SIGI_STATE script");
    assert_string_equal(room.room_id, "");
    assert_int_equal(page(""), LIVE_ROOM_NO_SCRIPT);
    assert_int_equal(live_room_parse_page(NULL, 0, &room, why, sizeof why),
                     LIVE_ROOM_NO_SCRIPT);
    /* Look-alikes are not the script. */
    assert_int_equal(page("<scripts id=\"SIGI_STATE\">{}</scripts>"), LIVE_ROOM_NO_SCRIPT);
    assert_int_equal(page("<script data-id=\"SIGI_STATE\">{}</script>"), LIVE_ROOM_NO_SCRIPT);
    assert_int_equal(page("<script id=\"SIGI_STATE_X\">{}</script>"), LIVE_ROOM_NO_SCRIPT);
    assert_int_equal(page("<div id=\"SIGI_STATE\">{}</div>"), LIVE_ROOM_NO_SCRIPT);
    /* The decoy inside another script's text is skipped with that script. */
    assert_int_equal(page(HEAD "</body></html>"), LIVE_ROOM_NO_SCRIPT);
}

static void test_page_malformed(void **state)
{
    (void)state;
    assert_int_equal(page("<script id=\"SIGI_STATE\">{\"LiveRoom\":</script>"),
                     LIVE_ROOM_MALFORMED);
    expect_why("SIGI_STATE is not JSON");
    assert_int_equal(page("<script id=\"SIGI_STATE\">{\"LiveRoom\":{}}"), LIVE_ROOM_MALFORMED);
    expect_why("does not end");
    assert_int_equal(page("<script id=\"SIGI_STATE\">{\"UserModule\":{}}</script>"),
                     LIVE_ROOM_MALFORMED);
    expect_why("no LiveRoom.liveRoomUserInfo.user");
    assert_int_equal(page("<script id=\"SIGI_STATE\">[1,2]</script>"), LIVE_ROOM_MALFORMED);
    assert_int_equal(page("<script id=\"SIGI_STATE\">{\"LiveRoom\":{\"liveRoomUserInfo\":"
                          "{\"user\":{\"roomId\":\"73x1\",\"status\":2}}}}</script>"),
                     LIVE_ROOM_MALFORMED);
    expect_why("not a decimal number");
    assert_string_equal(room.room_id, "");
    assert_int_equal(page("<script id=\"SIGI_STATE\">{\"LiveRoom\":{\"liveRoomUserInfo\":"
                          "{\"user\":{\"roomId\":\"1234567890123456789012345678901234\"}}}}"
                          "</script>"), LIVE_ROOM_MALFORMED);
    assert_int_equal(page("<script id=\"SIGI_STATE\">{\"LiveRoom\":{\"liveRoomUserInfo\":"
                          "{\"user\":{\"roomId\":-5}}}}</script>"), LIVE_ROOM_MALFORMED);
    assert_int_equal(page("<script id=\"SIGI_STATE\">{\"LiveRoom\":{\"liveRoomUserInfo\":"
                          "{\"user\":{\"roomId\":[7]}}}}</script>"), LIVE_ROOM_MALFORMED);
    /* The scan stays within len: the same page cut before its end. */
    static const char full[] = "<script id=\"SIGI_STATE\">{\"LiveRoom\":{\"liveRoomUserInfo\":"
                               "{\"user\":{\"roomId\":\"9\"}}}}</script>";
    assert_int_equal(live_room_parse_page(full, strlen(full) - 3, &room, why, sizeof why),
                     LIVE_ROOM_MALFORMED);
    assert_int_equal(live_room_parse_page(full, 10, &room, NULL, 0), LIVE_ROOM_NO_SCRIPT);
    assert_int_equal(live_room_parse_page(full, strlen(full), &room, NULL, 0),
                     LIVE_ROOM_FOUND);
    /* Bytes jansson quotes in its error never reach why raw. */
    assert_int_equal(page("<script id=\"SIGI_STATE\">{\"a\":\x01\x7f\xc3}</script>"),
                     LIVE_ROOM_MALFORMED);
    for (const char *p = why; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
}

static void test_api_ok(void **state)
{
    (void)state;
    assert_int_equal(api("{\"data\":{\"user\":{\"avatarThumb\":\"https:\\/\\/p16\\/a.jpeg\","
                         "\"id\":\"68\",\"nickname\":\"Alice\",\"roomId\":\"7301234567890123456\","
                         "\"secUid\":\"MS4w\",\"status\":2,\"uniqueId\":\"alice\"},\"stats\":"
                         "{\"followerCount\":10}},\"extra\":{\"now\":1},\"message\":\"\","
                         "\"statusCode\":0}"), LIVE_ROOM_FOUND);
    assert_string_equal(room.room_id, "7301234567890123456");
    assert_int_equal(room.status, 2);
    static const struct { const char *status; int want; } st[] = {
        { "2", 2 }, { "3", 3 }, { "4", 4 }, { "\"2\"", 2 }, { "\"x\"", 0 }, { "-1", 0 },
        { "null", 0 }, { "2.5", 0 }, { "99999999", 0 },
    };
    char body[256];
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        snprintf(body, sizeof body, "{\"statusCode\":0,\"data\":{\"user\":{\"roomId\":\"5\","
                 "\"status\":%s}}}", st[i].status);
        assert_int_equal(api(body), LIVE_ROOM_FOUND);
        assert_int_equal(room.status, st[i].want);
    }
    /* statusCode as a string. */
    assert_int_equal(api("{\"statusCode\":\"0\",\"data\":{\"user\":{\"roomId\":7}}}"),
                     LIVE_ROOM_FOUND);
    assert_string_equal(room.room_id, "7");
    /* Offline: no room. */
    assert_int_equal(api("{\"statusCode\":0,\"data\":{\"user\":{\"roomId\":\"\",\"status\":4}}}"),
                     LIVE_ROOM_NO_ROOM);
    assert_string_equal(room.room_id, "");
    assert_int_equal(room.status, 4);
    assert_int_equal(api("{\"statusCode\":0,\"data\":{\"user\":{\"uniqueId\":\"bob\"}}}"),
                     LIVE_ROOM_NO_ROOM);
    assert_int_equal(room.status, 0);
}

static void test_api_errors(void **state)
{
    (void)state;
    assert_int_equal(api("{\"statusCode\":19881007,\"message\":\"user_not_found\",\"data\":{}}"),
                     LIVE_ROOM_USER_NOT_FOUND);
    expect_why("19881007");
    assert_int_equal(api("{\"statusCode\":\"19881007\"}"), LIVE_ROOM_USER_NOT_FOUND);
    assert_int_equal(api("{\"statusCode\":4003110,\"message\":\"age restricted\"}"),
                     LIVE_ROOM_AGE_RESTRICTED);
    expect_why("age restricted");
    /* Another code: not understood. */
    assert_int_equal(api("{\"statusCode\":10000,\"message\":\"params\\nerror\"}"),
                     LIVE_ROOM_MALFORMED);
    expect_why("statusCode 10000 (params?error)");
    assert_int_equal(api("{\"data\":{\"user\":{\"roomId\":\"5\"}}}"), LIVE_ROOM_MALFORMED);
    expect_why("no usable statusCode");
    assert_int_equal(api("{\"statusCode\":-3}"), LIVE_ROOM_MALFORMED);
    assert_int_equal(api("{\"statusCode\":0}"), LIVE_ROOM_MALFORMED);
    expect_why("no data.user");
    assert_int_equal(api("{\"statusCode\":0,\"data\":{\"user\":\"alice\"}}"),
                     LIVE_ROOM_MALFORMED);
    assert_int_equal(api("{\"statusCode\":0,\"data\":{\"user\":{\"roomId\":\"12ab\"}}}"),
                     LIVE_ROOM_MALFORMED);
    expect_why("data.user has a roomId that is not a decimal number");
    assert_int_equal(api("[0]"), LIVE_ROOM_MALFORMED);
    expect_why("not a JSON object");
    /* Garbage. */
    assert_int_equal(api("{\"statusCode\":0,"), LIVE_ROOM_MALFORMED);
    expect_why("not JSON");
    assert_int_equal(api("ok"), LIVE_ROOM_MALFORMED);
    assert_int_equal(api("{} trailing"), LIVE_ROOM_MALFORMED);
    /* Empty, and a captcha page instead of JSON. */
    assert_int_equal(api(""), LIVE_ROOM_EMPTY);
    expect_why("empty body");
    assert_int_equal(api(" \r\n\t"), LIVE_ROOM_EMPTY);
    assert_int_equal(live_room_parse_api(NULL, 0, &room, NULL, 0), LIVE_ROOM_EMPTY);
    assert_int_equal(api("\n<!DOCTYPE html><html><title>Verify</title></html>"),
                     LIVE_ROOM_HTML);
    expect_why("HTML");
    /* Within len: a body cut before its end does not parse. */
    static const char ok[] = "{\"statusCode\":0,\"data\":{\"user\":{\"roomId\":\"5\"}}}";
    assert_int_equal(live_room_parse_api(ok, sizeof ok - 3, &room, why, sizeof why),
                     LIVE_ROOM_MALFORMED);
}

static int add(char *jar, size_t *len, size_t cap, const char *v)
{
    return live_tt_cookie_add(jar, len, cap, v, strlen(v));
}

static void test_cookies(void **state)
{
    (void)state;
    char jar[LIVE_TT_COOKIE_MAX] = "";
    size_t len = 0;
    assert_int_equal(add(jar, &len, sizeof jar, "ttwid=1%7Cabc; Path=/; Domain=.tiktok.com; "
                         "Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure; HttpOnly; "
                         "SameSite=None"), 0);
    assert_string_equal(jar, "ttwid=1%7Cabc");
    assert_int_equal(len, strlen(jar));
    /* More pairs in one value; a later value of a name replaces the earlier one. */
    assert_int_equal(add(jar, &len, sizeof jar, "  msToken=m1 ;tt_csrf_token=c-1;; =x; novalue"),
                     0);
    assert_string_equal(jar, "ttwid=1%7Cabc; msToken=m1; tt_csrf_token=c-1");
    assert_int_equal(add(jar, &len, sizeof jar, "msToken=m2"), 0);          /* the middle one */
    assert_string_equal(jar, "ttwid=1%7Cabc; tt_csrf_token=c-1; msToken=m2");
    assert_int_equal(add(jar, &len, sizeof jar, "msToken=m3"), 0);          /* the last one */
    assert_string_equal(jar, "ttwid=1%7Cabc; tt_csrf_token=c-1; msToken=m3");
    assert_int_equal(add(jar, &len, sizeof jar, "ttwid=2"), 0);             /* the first one */
    assert_string_equal(jar, "tt_csrf_token=c-1; msToken=m3; ttwid=2");
    /* A name that is a suffix of another is another name. */
    assert_int_equal(add(jar, &len, sizeof jar, "token=t"), 0);
    assert_string_equal(jar, "tt_csrf_token=c-1; msToken=m3; ttwid=2; token=t");
    assert_int_equal(len, strlen(jar));
    /* What a Cookie header cannot carry is dropped. */
    assert_int_equal(add(jar, &len, sizeof jar, "bad name=1; a=b\r\nX-Evil: 1; c=\x7f; "
                         "d,e=1; \xc3\xa9=2"), 0);
    assert_string_equal(jar, "tt_csrf_token=c-1; msToken=m3; ttwid=2; token=t");
    /* Bounded by cap: what does not fit is dropped and said so. */
    char small[16] = "";
    len = 0;
    assert_int_equal(add(small, &len, sizeof small, "a=1; b=2; c=3"), 0);
    assert_string_equal(small, "a=1; b=2; c=3");
    assert_int_equal(add(small, &len, sizeof small, "dd=4; e=5"), 1);
    assert_string_equal(small, "a=1; b=2; c=3");
    assert_int_equal(add(small, &len, sizeof small, "a=9"), 0);              /* replaces */
    assert_string_equal(small, "b=2; c=3; a=9");
    assert_int_equal(len, strlen(small));
    /* A jar with the only pair replaced. */
    char one[32] = "";
    len = 0;
    assert_int_equal(add(one, &len, sizeof one, "x=1"), 0);
    assert_int_equal(add(one, &len, sizeof one, "x=2"), 0);
    assert_string_equal(one, "x=2");
    assert_int_equal(add(one, &len, sizeof one, ""), 0);
    assert_string_equal(one, "x=2");
}

static void sign_error(const char *body, long now, int want_retry)
{
    char msg[LIVE_TT_TEXT_MAX + 1], label[LIVE_TT_TEXT_MAX + 1];
    int retry = -7;
    live_sign_error_parse(body, body ? strlen(body) : 0, now, msg, sizeof msg, label,
                          sizeof label, &retry);
    assert_int_equal(retry, want_retry);
    strcpy(why, msg);
    strcat(why, "|");
    strcat(why, label);
}

static void test_sign_errors(void **state)
{
    (void)state;
    long now = 1795514400;
    sign_error("{\"message\":\"Too many requests\",\"limit_label\":\"per-minute\"}", now, -1);
    assert_string_equal(why, "Too many requests|per-minute");
    sign_error("{\"message\":\"x\",\"retry_after\":12}", now, 12);
    sign_error("{\"retry_after\":0.2}", now, 1);
    sign_error("{\"retry_after\":2.5}", now, 3);
    sign_error("{\"retry_after\":1e9}", now, 86400);
    sign_error("{\"retry_after\":-5}", now, -1);
    sign_error("{\"retry_after\":\"12\"}", now, -1);
    sign_error("{\"reset\":30}", now, 30);                                /* seconds */
    sign_error("{\"reset\":1795514445}", now, 45);                        /* Unix time */
    sign_error("{\"reset\":1795514460000}", now, 60);                     /* in ms */
    sign_error("{\"reset\":1795514000}", now, 1);                         /* past: at once */
    sign_error("{\"retry_after\":7,\"reset\":1795514460}", now, 7);
    /* Not JSON, not an object, nothing. */
    sign_error("Too Many Requests", now, -1);
    assert_string_equal(why, "|");
    sign_error("[1]", now, -1);
    sign_error("", now, -1);
    sign_error(NULL, now, -1);
    /* Texts: printable ASCII, cut. */
    char body[600];
    snprintf(body, sizeof body, "{\"message\":\"a\\nb\\u00e9c%0400d\",\"limit_label\":7}", 0);
    sign_error(body, now, -1);
    assert_int_equal(strlen(why), LIVE_TT_TEXT_MAX + 1);
    assert_memory_equal(why, "a?b??c000", 9);
}

static void test_reasons(void **state)
{
    (void)state;
    assert_string_equal(live_tt_reason(LIVE_TT_OK), "ok");
    assert_string_equal(live_tt_reason(LIVE_TT_USER_NOT_FOUND), "user_not_found");
    assert_string_equal(live_tt_reason(LIVE_TT_NOT_LIVE), "not_live");
    assert_string_equal(live_tt_reason(LIVE_TT_AGE_RESTRICTED), "age_restricted");
    assert_string_equal(live_tt_reason(LIVE_TT_BLOCKED), "blocked");
    assert_string_equal(live_tt_reason(LIVE_TT_SIGN_RATE_LIMITED), "sign_server_rate_limited");
    assert_string_equal(live_tt_reason(LIVE_TT_SIGN_UNAUTHORIZED), "sign_server_unauthorized");
    assert_string_equal(live_tt_reason(LIVE_TT_UPSTREAM_CHANGED), "upstream_changed");
    assert_string_equal(live_tt_reason(LIVE_TT_NETWORK), "network");
    assert_string_equal(live_tt_reason((live_tt_status_t)99), "network");
    /* Freeing an empty result is harmless. */
    live_sign_result_t r;
    memset(&r, 0, sizeof r);
    live_sign_result_free(&r);
    live_sign_result_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_live),
        cmocka_unit_test(test_page_offline),
        cmocka_unit_test(test_page_blocked),
        cmocka_unit_test(test_page_malformed),
        cmocka_unit_test(test_api_ok),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_cookies),
        cmocka_unit_test(test_sign_errors),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests_name("live_room", tests, NULL, NULL);
}
