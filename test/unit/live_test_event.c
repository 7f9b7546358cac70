/* Unit tests of the event model (sidecar/events/event.c): type names and lists, rendering
 * (key order, null user/id, bounds, UTF-8 repair), users, and parsing recording lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events/event.h"

#define T0 1795514400123000LL   /* 2026-11-24T10:00:00.123Z */

static void test_type_names(void **state)
{
    live_event_type_t t;
    (void)state;
    assert_string_equal(live_event_type_name(LIVE_EV_COMMENT), "comment");
    assert_string_equal(live_event_type_name(LIVE_EV_STATUS), "status");
    assert_int_equal(live_event_type_parse("gift", 4, &t), 0);
    assert_int_equal(t, LIVE_EV_GIFT);
    assert_int_equal(live_event_type_parse("viewersx", 7, &t), 0);   /* length counts */
    assert_int_equal(t, LIVE_EV_VIEWERS);
    assert_int_equal(live_event_type_parse("gifts", 5, &t), -1);
    assert_int_equal(live_event_type_parse("", 0, &t), -1);
    assert_int_equal(live_event_types_parse("comment,gift"),
                     (1u << LIVE_EV_COMMENT) | (1u << LIVE_EV_GIFT));
    assert_int_equal(live_event_types_parse(" like , share "),
                     (1u << LIVE_EV_LIKE) | (1u << LIVE_EV_SHARE));
    assert_int_equal(live_event_types_parse("comment,like,gift,join,follow,share,viewers,status"),
                     LIVE_EV_ALL_TYPES);
    assert_int_equal(live_event_types_parse("comment,bogus"), 0);
    assert_int_equal(live_event_types_parse("comment,,gift"), 0);
    assert_int_equal(live_event_types_parse(""), 0);
    assert_int_equal(live_event_types_parse(NULL), 0);
}

static live_event_t *comment(const char *text)
{
    live_event_t *ev = live_event_new(LIVE_EV_COMMENT);
    assert_non_null(ev);
    ev->created_us = T0;
    strcpy(ev->upstream_id, "7301946211");
    json_object_set_new(ev->fields, "text", json_string(text));
    return ev;
}

static void test_render_comment(void **state)
{
    live_event_t *ev = comment("hello \"you\" ✨");
    size_t len = 0;
    char *json;
    (void)state;
    assert_int_equal(live_event_set_user(ev, "6790001", "@Alice", "Alice ✨",
                                         "https://p16-sign-va.tiktokcdn.com/a.jpeg"), 0);
    json = live_event_render(ev, "demo-1", 42, &len);
    assert_non_null(json);
    assert_string_equal(json,
        "{\"session_id\":\"demo-1\",\"offset\":42,\"type\":\"comment\",\"id\":\"7301946211\","
        "\"time\":\"2026-11-24T10:00:00.123Z\",\"user\":{\"id\":\"6790001\",\"username\":"
        "\"alice\",\"nickname\":\"Alice ✨\",\"avatar_url\":\"https://p16-sign-va.tiktokcdn.com/"
        "a.jpeg\"},\"text\":\"hello \\\"you\\\" ✨\"}");
    assert_int_equal(len, strlen(json));
    free(json);
    live_event_free(ev);
}

static void test_render_types(void **state)
{
    live_event_t *ev;
    char *json;
    (void)state;

    ev = live_event_status("ended", "disconnected");
    ev->created_us = T0;
    json = live_event_render(ev, "s", 7, NULL);
    assert_string_equal(json, "{\"session_id\":\"s\",\"offset\":7,\"type\":\"status\",\"id\":null,"
                        "\"time\":\"2026-11-24T10:00:00.123Z\",\"user\":null,"
                        "\"status\":\"ended\",\"reason\":\"disconnected\"}");
    free(json);
    live_event_free(ev);

    ev = live_event_status("live", NULL);
    ev->created_us = T0;
    json = live_event_render(ev, "s", 1, NULL);
    assert_non_null(strstr(json, "\"user\":null,\"status\":\"live\",\"reason\":null}"));
    free(json);
    live_event_free(ev);

    ev = live_event_new(LIVE_EV_GIFT);
    ev->created_us = T0;
    /* Inserted out of order: rendered in the schema's order; unknown keys are not rendered. */
    json_object_set_new(ev->fields, "diamonds", json_integer(10));
    json_object_set_new(ev->fields, "extra", json_true());
    json_object_set_new(ev->fields, "count", json_integer(10));
    json_object_set_new(ev->fields, "gift_name", json_string("Rose"));
    json_object_set_new(ev->fields, "gift_id", json_integer(5655));
    json = live_event_render(ev, "s", 2, NULL);
    assert_non_null(strstr(json, "\"id\":null,"));
    assert_non_null(strstr(json, "\"user\":null,\"gift_id\":5655,\"gift_name\":\"Rose\","
                                 "\"count\":10,\"diamonds\":10}"));
    free(json);
    live_event_free(ev);

    ev = live_event_new(LIVE_EV_LIKE);
    json_object_set_new(ev->fields, "count", json_integer(3));
    json = live_event_render(ev, "s", 3, NULL);
    assert_non_null(strstr(json, "\"count\":3,\"total\":null}"));   /* missing → null */
    free(json);
    live_event_free(ev);

    ev = live_event_new(LIVE_EV_JOIN);
    assert_int_equal(live_event_set_user(ev, "1", "bob", NULL, NULL), 0);
    json = live_event_render(ev, "s", 4, NULL);
    assert_non_null(strstr(json, "\"user\":{\"id\":\"1\",\"username\":\"bob\",\"nickname\":null,"
                                 "\"avatar_url\":null}}"));
    free(json);
    live_event_free(ev);
    assert_null(live_event_new(LIVE_EV__COUNT));
}

static void test_set_user(void **state)
{
    live_event_t *ev = live_event_new(LIVE_EV_FOLLOW);
    char nick[400];
    (void)state;

    assert_int_equal(live_event_set_user(ev, "1", "Good.Name_9", "N", "ftp://x/y.png"), 0);
    assert_string_equal(ev->username, "good.name_9");
    assert_null(ev->avatar_url);                            /* not http(s): dropped */
    assert_int_equal(live_event_set_user(ev, "2", "bad-name", "X", NULL), -1);
    assert_string_equal(ev->user_id, "1");                  /* unchanged */
    assert_int_equal(live_event_set_user(ev, "2", "a", "X", NULL), -1);
    assert_int_equal(live_event_set_user(ev, "2", "abcdefghijklmnopqrstuvwxy", "X", NULL), -1);
    assert_int_equal(live_event_set_user(ev, "2", "h\xc3\xa9llo", "X", NULL), -1);
    /* No username at all is fine (the user has only an id). */
    assert_int_equal(live_event_set_user(ev, "3", NULL, NULL, NULL), 0);
    assert_null(ev->username);
    assert_string_equal(ev->user_id, "3");
    /* Nothing: no user. */
    assert_int_equal(live_event_set_user(ev, NULL, NULL, NULL, NULL), 0);
    assert_null(ev->user_id);
    /* 200 × "é" (400 bytes) cut to 255 bytes on a character boundary: 127 characters. */
    for (int i = 0; i < 200; i++)
        memcpy(nick + 2 * i, "\xc3\xa9", 2);
    nick[399] = '\0';                                       /* a dangling lead byte at the end */
    assert_int_equal(live_event_set_user(ev, "x", "bob", nick, "https://a.b/c.jpeg"), 0);
    assert_int_equal(strlen(ev->nickname), 254);
    {
        json_t *j = json_string(ev->nickname);             /* valid UTF-8 */
        assert_non_null(j);
        json_decref(j);
    }
    /* Invalid UTF-8 becomes U+FFFD. */
    assert_int_equal(live_event_set_user(ev, "x", "bob", "a\xff" "b\xc0\xaf", NULL), 0);
    assert_string_equal(ev->nickname, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd");
    live_event_free(ev);
}

static void test_render_bounds(void **state)
{
    char *text = malloc(5000), *json;
    live_event_t *ev;
    json_t *parsed;
    size_t len;
    (void)state;

    /* 4000 bytes of text: cut to LIVE_TEXT_MAX. */
    memset(text, 'a', 4000);
    text[4000] = '\0';
    ev = comment(text);
    json = live_event_render(ev, "s", 1, &len);
    parsed = json_loads(json, 0, NULL);
    assert_non_null(parsed);
    assert_int_equal(json_string_length(json_object_get(parsed, "text")), LIVE_TEXT_MAX);
    json_decref(parsed);
    free(json);
    live_event_free(ev);

    /* Control characters render as \u00XX (6 bytes each): the text is cut further so the
     * whole event fits LIVE_EVENT_JSON_MAX, and stays valid JSON. */
    memset(text, '\x01', 4000);
    ev = comment(text);
    assert_int_equal(live_event_set_user(ev, "1", "bob", "B", "https://a.b/c.jpeg"), 0);
    json = live_event_render(ev, "s", 1, &len);
    assert_non_null(json);
    assert_true(len <= LIVE_EVENT_JSON_MAX);
    assert_true(len > LIVE_EVENT_JSON_MAX - 64);
    parsed = json_loads(json, 0, NULL);
    assert_non_null(parsed);
    assert_true(json_string_length(json_object_get(parsed, "text")) > 1300);   /* ~(8192-200)/6 */
    assert_true(json_string_length(json_object_get(parsed, "text")) < 1340);
    json_decref(parsed);
    free(json);
    live_event_free(ev);

    /* Multi-byte characters are never split by the cut. */
    for (int i = 0; i < 1000; i++)
        memcpy(text + 4 * i, "\xf0\x9f\x94\xa5", 4);       /* 🔥 */
    text[4000] = '\0';
    ev = comment(text);
    json = live_event_render(ev, "s", 1, &len);
    parsed = json_loads(json, 0, NULL);
    assert_non_null(parsed);
    assert_int_equal(json_string_length(json_object_get(parsed, "text")), 2048);
    json_decref(parsed);
    free(json);
    live_event_free(ev);

    /* Invalid UTF-8 put into the fields by a source is repaired, not refused. */
    ev = live_event_new(LIVE_EV_COMMENT);
    json_object_set_new(ev->fields, "text", json_stringn_nocheck("ok\xff\xfe!", 5));
    strcpy(ev->upstream_id, "id\xc3");
    json = live_event_render(ev, "s", 1, NULL);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"id\":\"id\xef\xbf\xbd\""));
    assert_non_null(strstr(json, "\"text\":\"ok\xef\xbf\xbd\xef\xbf\xbd!\""));
    free(json);
    live_event_free(ev);
    free(text);
}

#define USER "\"user\":{\"id\":\"9\",\"username\":\"Carol_1\",\"nickname\":\"Carol 🌸\"," \
             "\"avatar_url\":\"https://p16-sign-va.tiktokcdn.com/x.jpeg\"}"

static live_event_t *parse(const char *line, char *err)
{
    return live_event_parse(line, strlen(line), err, 128);
}

static void test_parse_ok(void **state)
{
    char err[128] = "", *json;
    live_event_t *ev;
    (void)state;

    ev = parse("{\"type\":\"comment\",\"id\":\"77\",\"time\":\"2026-11-24T10:00:00.123Z\"," USER
               ",\"text\":\"hi 👋\"}", err);
    assert_non_null(ev);
    assert_int_equal(ev->type, LIVE_EV_COMMENT);
    assert_string_equal(ev->upstream_id, "77");
    assert_int_equal(ev->created_us, T0);
    assert_string_equal(ev->username, "carol_1");
    json = live_event_render(ev, "s", 5, NULL);
    assert_string_equal(json, "{\"session_id\":\"s\",\"offset\":5,\"type\":\"comment\",\"id\":\"77\","
                        "\"time\":\"2026-11-24T10:00:00.123Z\",\"user\":{\"id\":\"9\",\"username\":"
                        "\"carol_1\",\"nickname\":\"Carol 🌸\",\"avatar_url\":\"https://p16-sign-va."
                        "tiktokcdn.com/x.jpeg\"},\"text\":\"hi 👋\"}");
    free(json);
    live_event_free(ev);

    ev = parse("{\"type\":\"gift\",\"id\":\"1\",\"time\":\"2026-11-24T11:00:00.123+01:00\",\"user\":"
               "null,\"gift_id\":5655,\"gift_name\":\"Rose\",\"count\":3,\"diamonds\":3,\"x\":1}", err);
    assert_non_null(ev);
    assert_int_equal(ev->created_us, T0);
    assert_null(ev->user_id);
    assert_int_equal(json_integer_value(json_object_get(ev->fields, "diamonds")), 3);
    assert_null(json_object_get(ev->fields, "x"));
    live_event_free(ev);

    ev = parse("{\"type\":\"like\",\"time\":\"2026-11-24T10:00:00Z\",\"count\":2,\"total\":99}", err);
    assert_non_null(ev);
    assert_string_equal(ev->upstream_id, "");
    assert_int_equal(ev->created_us, T0 - 123000);
    live_event_free(ev);

    ev = parse("{\"type\":\"viewers\",\"id\":\"v\",\"time\":\"2026-11-24T10:00:00.5Z\",\"user\":null,"
               "\"viewers\":1234}", err);
    assert_non_null(ev);
    assert_int_equal(ev->created_us, T0 - 123000 + 500000);
    live_event_free(ev);

    ev = parse("{\"type\":\"status\",\"time\":\"2026-11-24T10:00:00Z\",\"status\":\"ended\","
               "\"reason\":\"host_ended\"}", err);
    assert_non_null(ev);
    live_event_free(ev);

    for (int t = LIVE_EV_JOIN; t <= LIVE_EV_SHARE; t++) {
        char line[256];
        snprintf(line, sizeof(line), "{\"type\":\"%s\",\"time\":\"2026-11-24T10:00:00Z\"," USER "}",
                 live_event_type_name((live_event_type_t)t));
        ev = parse(line, err);
        assert_non_null(ev);
        assert_int_equal(ev->type, t);
        live_event_free(ev);
    }
}

static void test_parse_errors(void **state)
{
    static const char *const bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"time\":\"2026-11-24T10:00:00Z\"}",
        "{\"type\":\"poke\",\"time\":\"2026-11-24T10:00:00Z\"}",
        "{\"type\":1,\"time\":\"2026-11-24T10:00:00Z\"}",
        "{\"type\":\"join\"}",
        "{\"type\":\"join\",\"time\":\"yesterday\"}",
        "{\"type\":\"join\",\"time\":\"2026-11-24 10:00:00Z\"}",
        "{\"type\":\"join\",\"time\":\"2026-13-24T10:00:00Z\"}",
        "{\"type\":\"join\",\"time\":\"2026-11-24T10:00:00\"}",
        "{\"type\":\"join\",\"time\":1795514400}",
        "{\"type\":\"comment\",\"time\":\"2026-11-24T10:00:00Z\"}",
        "{\"type\":\"comment\",\"time\":\"2026-11-24T10:00:00Z\",\"text\":5}",
        "{\"type\":\"like\",\"time\":\"2026-11-24T10:00:00Z\",\"count\":\"2\"}",
        "{\"type\":\"like\",\"time\":\"2026-11-24T10:00:00Z\",\"count\":-1}",
        "{\"type\":\"like\",\"time\":\"2026-11-24T10:00:00Z\",\"count\":1.5}",
        "{\"type\":\"viewers\",\"time\":\"2026-11-24T10:00:00Z\",\"viewers\":3000000000}",
        "{\"type\":\"gift\",\"time\":\"2026-11-24T10:00:00Z\",\"gift_id\":1,\"count\":1,\"diamonds\":1}",
        "{\"type\":\"status\",\"time\":\"2026-11-24T10:00:00Z\",\"status\":\"napping\"}",
        "{\"type\":\"status\",\"time\":\"2026-11-24T10:00:00Z\",\"status\":\"ended\",\"reason\":\"Bad!\"}",
        "{\"type\":\"join\",\"time\":\"2026-11-24T10:00:00Z\",\"user\":\"bob\"}",
        "{\"type\":\"join\",\"time\":\"2026-11-24T10:00:00Z\",\"user\":{\"username\":\"no way\"}}",
        "{\"type\":\"join\",\"time\":\"2026-11-24T10:00:00Z\",\"user\":{\"id\":123}}",
        "{\"type\":\"join\",\"id\":7,\"time\":\"2026-11-24T10:00:00Z\"}",
        "{\"type\":\"join\",\"type\":\"like\",\"time\":\"2026-11-24T10:00:00Z\"}",
        "{\"type\":\"join\",\"id\":\"0123456789012345678901234567890123456789012345678901234567890123"
        "4\",\"time\":\"2026-11-24T10:00:00Z\"}",
    };
    char err[128];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        live_event_t *ev = parse(bad[i], err);
        if (ev)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
    }
    /* Text beyond the bound is refused in a recording. */
    {
        size_t n = LIVE_TEXT_MAX + 100;
        char *line = malloc(n + 100);
        int k = sprintf(line, "{\"type\":\"comment\",\"time\":\"2026-11-24T10:00:00Z\",\"text\":\"");
        memset(line + k, 'a', n);
        strcpy(line + k + n, "\"}");
        assert_null(live_event_parse(line, strlen(line), err, sizeof(err)));
        free(line);
    }
    /* Invalid UTF-8 is refused by the JSON parser. */
    assert_null(parse("{\"type\":\"comment\",\"time\":\"2026-11-24T10:00:00Z\",\"text\":\"\xff\"}",
                      err));
}

/* The shipped sample recording (sidecar/replay/demo.ndjson, run from the top directory):
 * every line is a valid event, times never go back, a realistic mix. */
static void test_demo_recording(void **state)
{
    FILE *f = fopen("sidecar/replay/demo.ndjson", "r");
    char line[16384], err[128], users[256][LIVE_USERNAME_MAX + 1];
    int counts[LIVE_EV__COUNT] = { 0 }, n = 0, nusers = 0;
    int64_t last = 0;
    (void)state;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        live_event_t *ev = live_event_parse(line, strlen(line), err, sizeof(err));
        if (!ev)
            fail_msg("line %d: %s", n + 1, err);
        assert_true(ev->created_us >= last);
        last = ev->created_us;
        assert_true(ev->upstream_id[0] != '\0');
        counts[ev->type]++;
        if (ev->type == LIVE_EV_VIEWERS) {
            assert_null(ev->user_id);
        } else {
            int k;
            assert_non_null(ev->username);
            assert_non_null(ev->avatar_url);
            assert_int_equal(strncmp(ev->avatar_url, "https://", 8), 0);
            for (k = 0; k < nusers && strcmp(users[k], ev->username) != 0; k++)
                ;
            if (k == nusers && nusers < 256)
                strcpy(users[nusers++], ev->username);
        }
        live_event_free(ev);
        n++;
    }
    fclose(f);
    assert_true(n >= 2500 && n <= 3500);
    assert_true(counts[LIVE_EV_COMMENT] > n / 3);
    for (int t = 0; t < LIVE_EV_STATUS; t++)
        assert_true(counts[t] > 0);
    assert_int_equal(counts[LIVE_EV_STATUS], 0);
    assert_true(nusers >= 150);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_render_comment),
        cmocka_unit_test(test_render_types),
        cmocka_unit_test(test_set_user),
        cmocka_unit_test(test_render_bounds),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_demo_recording),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
