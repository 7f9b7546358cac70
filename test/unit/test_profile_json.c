/* The profile answer's JSON: every member in the documented order, null for what is not
 * known, escaping of page text, the stale suffix, tier names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <jansson.h>

#include "profiles/profile_json.h"

static apr_pool_t *pool;

#define FETCHED (apr_time_from_sec(1795514400) + 123456)      /* 2026-11-24T10:00:00.123Z */
#define EXPIRES apr_time_from_sec(1795514700)

static const char *const top_keys[] = {
    "username", "user_id", "nickname", "bio", "verified", "private", "avatar", "stats",
    "fetched_at", "expires_at", "stale",
};
static const char *const avatar_keys[] = { "url", "source", "thumb", "medium", "large" };
static const char *const stats_keys[] = { "followers", "following", "likes", "videos" };

/* Renders v, finishes it and parses the answer, checking the text's shape on the way. */
static json_t *answer(const profile_view_t *v, int stale)
{
    apr_size_t len, out_len;
    const char *body = profile_json_render(pool, v, &len), *text;
    const char *tail = stale ? ",\"stale\":true}" : ",\"stale\":false}";
    json_error_t err;
    json_t *o;

    assert_int_equal(len, strlen(body));
    assert_true(len > 2 && body[0] == '{' && body[len - 1] != '}');
    text = profile_json_finish(pool, body, len, stale, &out_len);
    assert_int_equal(out_len, strlen(text));
    assert_int_equal(out_len, len + strlen(tail));
    assert_memory_equal(text, body, len);
    assert_string_equal(text + len, tail);
    o = json_loads(text, 0, &err);
    if (!o)
        fail_msg("not JSON (%s): %s", err.text, text);
    return o;
}

/* The object's members are exactly keys, in that order. */
static void check_keys(json_t *o, const char *const *keys, apr_size_t n)
{
    void *it = json_object_iter(o);
    apr_size_t i;

    assert_true(json_is_object(o));
    for (i = 0; i < n; i++, it = json_object_iter_next(o, it)) {
        assert_non_null(it);
        assert_string_equal(json_object_iter_key(it), keys[i]);
    }
    assert_null(it);
}

static void full_view(profile_view_t *v)
{
    memset(v, 0, sizeof(*v));
    v->username = "alice.b";
    profile_tiktok_user_init(&v->user);
    v->user.user_id = "6812345678901234567";
    v->user.unique_id = "Alice.B";
    v->user.nickname = "Alice \xe2\x9c\xa8";
    v->user.bio = "say \"hi\"\nback\\slash \xc3\xa9 \xf0\x9f\x8e\x89 \x01 </script>";
    v->user.verified = 1;
    v->user.private_account = 0;
    v->user.followers = 123456789012LL;
    v->user.following = 0;
    v->user.likes = 42;
    v->user.videos = 7;
    v->tier = PROFILE_TIER_SCRAPER;
    v->avatar_thumb = "https://cdn.example/a~100.jpeg?x=1&y=2";
    v->avatar_medium = "https://cdn.example/a~720.jpeg";
    v->avatar_large = "https://cdn.example/a~1080.jpeg";
    v->avatar_url = v->avatar_large;
    v->fetched_at = FETCHED;
    v->expires_at = EXPIRES;
}

static void test_full(void **state)
{
    profile_view_t v;
    json_t *o, *avatar, *stats;

    (void)state;
    full_view(&v);
    o = answer(&v, 0);
    check_keys(o, top_keys, sizeof(top_keys) / sizeof(top_keys[0]));
    assert_string_equal(json_string_value(json_object_get(o, "username")), "Alice.B");
    assert_string_equal(json_string_value(json_object_get(o, "user_id")), "6812345678901234567");
    assert_string_equal(json_string_value(json_object_get(o, "nickname")), v.user.nickname);
    assert_string_equal(json_string_value(json_object_get(o, "bio")), v.user.bio);
    assert_true(json_is_true(json_object_get(o, "verified")));
    assert_true(json_is_false(json_object_get(o, "private")));
    assert_true(json_is_false(json_object_get(o, "stale")));
    assert_string_equal(json_string_value(json_object_get(o, "fetched_at")),
                        "2026-11-24T10:00:00Z");
    assert_string_equal(json_string_value(json_object_get(o, "expires_at")),
                        "2026-11-24T10:05:00Z");

    avatar = json_object_get(o, "avatar");
    check_keys(avatar, avatar_keys, sizeof(avatar_keys) / sizeof(avatar_keys[0]));
    assert_string_equal(json_string_value(json_object_get(avatar, "url")), v.avatar_large);
    assert_string_equal(json_string_value(json_object_get(avatar, "source")), "scraper");
    assert_string_equal(json_string_value(json_object_get(avatar, "thumb")), v.avatar_thumb);
    assert_string_equal(json_string_value(json_object_get(avatar, "medium")), v.avatar_medium);
    assert_string_equal(json_string_value(json_object_get(avatar, "large")), v.avatar_large);

    stats = json_object_get(o, "stats");
    check_keys(stats, stats_keys, sizeof(stats_keys) / sizeof(stats_keys[0]));
    assert_int_equal(json_integer_value(json_object_get(stats, "followers")), 123456789012LL);
    assert_true(json_is_integer(json_object_get(stats, "following")));
    assert_int_equal(json_integer_value(json_object_get(stats, "following")), 0);
    assert_int_equal(json_integer_value(json_object_get(stats, "likes")), 42);
    assert_int_equal(json_integer_value(json_object_get(stats, "videos")), 7);
    json_decref(o);

    o = answer(&v, 1);
    assert_true(json_is_true(json_object_get(o, "stale")));
    json_decref(o);
}

/* What a page says arrives in the text escaped, never raw. */
static void test_escaping(void **state)
{
    profile_view_t v;
    apr_size_t len;
    const char *body;

    (void)state;
    full_view(&v);
    body = profile_json_render(pool, &v, &len);
    assert_non_null(strstr(body, "\"bio\":\"say \\\"hi\\\"\\nback\\\\slash "));
    assert_non_null(strstr(body, "\\u0001"));
    assert_null(strchr(body, '\n'));
    assert_null(strchr(body, '\x01'));
    /* Compact: no spaces between members. */
    assert_non_null(strstr(body, "\"verified\":true,\"private\":false,"));
}

static void test_unknowns_are_null(void **state)
{
    profile_view_t v;
    json_t *o, *avatar, *stats;
    apr_size_t i;

    (void)state;
    memset(&v, 0, sizeof(v));
    v.username = "nobody";
    profile_tiktok_user_init(&v.user);
    v.tier = PROFILE_TIER_INITIALS;
    v.avatar_url = "https://api.example/avatars/initials/nobody.svg?size=1080";
    v.fetched_at = FETCHED;
    o = answer(&v, 0);
    check_keys(o, top_keys, sizeof(top_keys) / sizeof(top_keys[0]));
    assert_string_equal(json_string_value(json_object_get(o, "username")), "nobody");
    for (i = 1; i < 6; i++)
        if (!json_is_null(json_object_get(o, top_keys[i])))
            fail_msg("%s is not null", top_keys[i]);
    assert_true(json_is_null(json_object_get(o, "expires_at")));
    avatar = json_object_get(o, "avatar");
    assert_string_equal(json_string_value(json_object_get(avatar, "url")), v.avatar_url);
    assert_string_equal(json_string_value(json_object_get(avatar, "source")), "initials");
    assert_true(json_is_null(json_object_get(avatar, "thumb")));
    assert_true(json_is_null(json_object_get(avatar, "large")));
    stats = json_object_get(o, "stats");
    check_keys(stats, stats_keys, sizeof(stats_keys) / sizeof(stats_keys[0]));
    for (i = 0; i < sizeof(stats_keys) / sizeof(stats_keys[0]); i++)
        assert_true(json_is_null(json_object_get(stats, stats_keys[i])));
    json_decref(o);

    /* Text that is not UTF-8 (a live_profiles row from elsewhere) and a tier out of range
     * become null rather than a broken answer. */
    v.user.nickname = "bad \xff\xfe";
    v.tier = PROFILE_TIER_COUNT;
    o = answer(&v, 0);
    assert_true(json_is_null(json_object_get(o, "nickname")));
    assert_true(json_is_null(json_object_get(json_object_get(o, "avatar"), "source")));
    json_decref(o);
}

static void test_tiers(void **state)
{
    static const char *const names[] = { "live", "scraper", "generator", "initials" };
    int i;

    (void)state;
    for (i = 0; i < PROFILE_TIER_COUNT; i++) {
        assert_string_equal(profile_tier_name(i), names[i]);
        assert_int_equal(profile_tier_parse(names[i]), i);
    }
    assert_int_equal(profile_tier_parse("Scraper"), PROFILE_TIER_SCRAPER);
    assert_int_equal(profile_tier_parse("scrape"), -1);
    assert_int_equal(profile_tier_parse(""), -1);
    assert_int_equal(profile_tier_parse(NULL), -1);
    assert_null(profile_tier_name(-1));
    assert_null(profile_tier_name(PROFILE_TIER_COUNT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_unknowns_are_null),
        cmocka_unit_test(test_tiers),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("profile_json", tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
