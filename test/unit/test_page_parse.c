/* Profile extraction from TikTok pages: the current and the legacy script, missing and banned
 * users, walls without data, broken pages, bounds on every copied field. Each page is parsed
 * from a heap copy of exactly its length, so valgrind catches any read past len. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "profiles/page_parse.h"

static apr_pool_t *pool;

#define UNIVERSAL_OPEN "<script id=\"__UNIVERSAL_DATA_FOR_REHYDRATION__\" " \
                       "type=\"application/json\">"
#define DETAIL(x) "{\"__DEFAULT_SCOPE__\":{\"webapp.app-context\":{\"language\":\"en\"}," \
                  "\"webapp.user-detail\":" x "}}"
#define HEAD "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">" \
             "<title>TikTok</title><script nonce=\"n1\">window.__x = 1;</script>"
#define TAIL "</head><body><div id=\"app\"></div></body></html>"
#define UNIVERSAL_PAGE(x) HEAD UNIVERSAL_OPEN DETAIL(x) "</script>" TAIL

static const char normal_page[] = UNIVERSAL_PAGE(
    "{\"userInfo\":{\"user\":{\"id\":\"6812345678901234567\",\"shortId\":\"\","
    "\"uniqueId\":\"alice.b\",\"nickname\":\"Alice \\u2728 B\","
    "\"avatarLarger\":\"https:\\u002F\\u002Fp16-sign.tiktokcdn.com\\u002Ftos-avt\\u002Fabc"
    "~c5_1080x1080.jpeg?x-expires=1700000000&x-signature=AbC%2Bd%3D\","
    "\"avatarMedium\":\"https:\\u002F\\u002Fp16-sign.tiktokcdn.com\\u002Fabc~c5_720x720.jpeg\","
    "\"avatarThumb\":\"https:\\u002F\\u002Fp16-sign.tiktokcdn.com\\u002Fabc~c5_100x100.jpeg\","
    "\"signature\":\"Line \\\"one\\\"\\nLine two \\ud83c\\udf89\",\"verified\":true,"
    "\"secUid\":\"MS4wLjABAAAA\",\"privateAccount\":false},"
    "\"stats\":{\"followerCount\":12345,\"followingCount\":67,\"heart\":890,"
    "\"heartCount\":891,\"videoCount\":42,\"diggCount\":0}},"
    "\"statusCode\":0,\"statusMsg\":\"\"}");

/* Parses a heap copy of exactly len bytes (no terminating NUL to lean on). */
static profile_page_status_t parse_n(const char *html, apr_size_t len, profile_tiktok_user_t *u,
                                     const char **why)
{
    char *copy = malloc(len ? len : 1);
    profile_page_status_t st;

    assert_non_null(copy);
    memcpy(copy, html, len);
    st = profile_page_parse(pool, copy, len, u, why);
    free(copy);
    return st;
}

static profile_page_status_t parse(const char *html, profile_tiktok_user_t *u, const char **why)
{
    return parse_n(html, strlen(html), u, why);
}

static void test_normal(void **state)
{
    profile_tiktok_user_t u;
    const char *why = "unset";

    (void)state;
    assert_int_equal(parse(normal_page, &u, &why), PROFILE_PAGE_OK);
    assert_null(why);
    assert_string_equal(u.user_id, "6812345678901234567");
    assert_string_equal(u.unique_id, "alice.b");
    assert_string_equal(u.nickname, "Alice \xe2\x9c\xa8 B");
    assert_string_equal(u.bio, "Line \"one\"\nLine two \xf0\x9f\x8e\x89");
    assert_int_equal(u.verified, 1);
    assert_int_equal(u.private_account, 0);
    assert_int_equal(u.followers, 12345);
    assert_int_equal(u.following, 67);
    assert_int_equal(u.likes, 891);        /* heartCount wins over heart */
    assert_int_equal(u.videos, 42);
    assert_string_equal(u.avatar_large, "https://p16-sign.tiktokcdn.com/tos-avt/abc"
                        "~c5_1080x1080.jpeg?x-expires=1700000000&x-signature=AbC%2Bd%3D");
    assert_string_equal(u.avatar_medium, "https://p16-sign.tiktokcdn.com/abc~c5_720x720.jpeg");
    assert_string_equal(u.avatar_thumb, "https://p16-sign.tiktokcdn.com/abc~c5_100x100.jpeg");

    /* why may be NULL. */
    assert_int_equal(parse(normal_page, &u, NULL), PROFILE_PAGE_OK);
}

static void test_private_account(void **state)
{
    static const char page[] = UNIVERSAL_PAGE(
        "{\"userInfo\":{\"user\":{\"id\":\"42\",\"uniqueId\":\"hidden\",\"nickname\":\"H\","
        "\"signature\":\"\",\"verified\":false,\"privateAccount\":true},"
        "\"stats\":{\"followerCount\":3,\"followingCount\":4,\"heartCount\":0,"
        "\"videoCount\":0}},\"statusCode\":0}");
    profile_tiktok_user_t u;

    (void)state;
    assert_int_equal(parse(page, &u, NULL), PROFILE_PAGE_OK);
    assert_int_equal(u.private_account, 1);
    assert_int_equal(u.verified, 0);
    assert_string_equal(u.bio, "");
    assert_int_equal(u.followers, 3);
    assert_int_equal(u.likes, 0);
    assert_null(u.avatar_large);
    assert_null(u.avatar_thumb);
}

static void test_not_found(void **state)
{
    static const char *const pages[] = {
        UNIVERSAL_PAGE("{\"statusCode\":10221,\"statusMsg\":\"user not exist\"}"),
        UNIVERSAL_PAGE("{\"userInfo\":{},\"statusCode\":10222}"),
        UNIVERSAL_PAGE("{\"statusCode\":\"10202\"}"),
        /* A status that says "gone" wins over a user left in the data. */
        UNIVERSAL_PAGE("{\"userInfo\":{\"user\":{\"id\":\"1\"}},\"statusCode\":10221}"),
        HEAD "<script id=\"SIGI_STATE\" type=\"application/json\">"
        "{\"UserModule\":{\"users\":{},\"stats\":{}},\"UserPage\":{\"statusCode\":10221}}"
        "</script>" TAIL,
    };
    profile_tiktok_user_t u;
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        assert_int_equal(parse(pages[i], &u, NULL), PROFILE_PAGE_NOT_FOUND);
        assert_null(u.user_id);
        assert_int_equal(u.followers, -1);
    }
}

static void test_sigi_state(void **state)
{
    static const char page[] = HEAD
        "<script type=\"application/json\" id='SIGI_STATE'>"
        "{\"AppContext\":{\"appContext\":{}},"
        "\"UserModule\":{\"users\":{\"Bob.Smith\":{\"id\":\"777\",\"uniqueId\":\"Bob.Smith\","
        "\"nickname\":\"Bob\",\"signature\":\"hi\",\"verified\":false,"
        "\"privateAccount\":false,\"avatarLarger\":\"https:\\u002F\\u002Fcdn.example\\u002Fl\","
        "\"avatarMedium\":\"https:\\u002F\\u002Fcdn.example\\u002Fm\"}},"
        "\"stats\":{\"Bob.Smith\":{\"followerCount\":10,\"followingCount\":20,\"heart\":30,"
        "\"videoCount\":40}}},\"UserPage\":{\"uniqueId\":\"bob.smith\",\"statusCode\":0}}"
        "</script>" TAIL;
    profile_tiktok_user_t u;

    (void)state;
    assert_int_equal(parse(page, &u, NULL), PROFILE_PAGE_OK);
    assert_string_equal(u.user_id, "777");
    assert_string_equal(u.unique_id, "Bob.Smith");
    assert_string_equal(u.nickname, "Bob");
    assert_string_equal(u.bio, "hi");
    assert_int_equal(u.followers, 10);
    assert_int_equal(u.following, 20);
    assert_int_equal(u.likes, 30);         /* "heart" when there is no heartCount */
    assert_int_equal(u.videos, 40);
    assert_string_equal(u.avatar_large, "https://cdn.example/l");
    assert_string_equal(u.avatar_medium, "https://cdn.example/m");
    assert_null(u.avatar_thumb);
}

static void test_blocked(void **state)
{
    static const char *const pages[] = {
        "<html><head><script src=\"/captcha/sdk.js\"></script></head>"
        "<body><div id=\"captcha-verify-image\">Drag the slider</div></body></html>",
        "",
        /* The id in text, in another attribute or in another script is no data script. */
        "<p>__UNIVERSAL_DATA_FOR_REHYDRATION__ SIGI_STATE</p>",
        "<script data-id=\"__UNIVERSAL_DATA_FOR_REHYDRATION__\">{}</script>",
        "<script idx=\"SIGI_STATE\">{}</script>",
        "<script>var s = '<script id=\"SIGI_STATE\">{}';</script>",
        "<scripts id=\"SIGI_STATE\">{}</scripts>",
        "<script id=\"SIGI_STATE_X\">{}</script>",
    };
    profile_tiktok_user_t u;
    const char *why;
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        why = NULL;
        assert_int_equal(parse(pages[i], &u, &why), PROFILE_PAGE_BLOCKED);
        assert_string_equal(why, "no __UNIVERSAL_DATA_FOR_REHYDRATION__ or SIGI_STATE script");
        assert_null(u.nickname);
        assert_int_equal(u.verified, -1);
    }
    assert_int_equal(profile_page_parse(pool, NULL, 0, &u, NULL), PROFILE_PAGE_BLOCKED);
}

static void test_malformed(void **state)
{
    static const struct {
        const char *page;
        const char *why;
    } pages[] = {
        { HEAD UNIVERSAL_OPEN "{\"__DEFAULT_SCOPE__\":{\"webapp.user-detail\":" "</script>" TAIL,
          "JSON error at line 1: " },
        { HEAD UNIVERSAL_OPEN "</script>" TAIL, "JSON error" },
        { HEAD UNIVERSAL_OPEN DETAIL("{\"statusCode\":0}"), "without </script>" },
        { HEAD UNIVERSAL_OPEN "{\"__DEFAULT_SCOPE__\":{}}</script>" TAIL,
          "no __DEFAULT_SCOPE__[\"webapp.user-detail\"]" },
        { UNIVERSAL_PAGE("{\"userInfo\":{\"stats\":{}},\"statusCode\":0}"),
          "no user in the page data" },
        { UNIVERSAL_PAGE("{\"userInfo\":{\"user\":[]}}"), "no user" },
        { UNIVERSAL_PAGE("{\"statusCode\":10000}"), "statusCode 10000 and no user" },
        { HEAD "<script id=\"SIGI_STATE\">{\"UserModule\":{\"users\":{}}}</script>", "no user" },
        { HEAD "<script id=\"SIGI_STATE\">[1,2]</script>", "no user" },
        { "<script id=\"SIGI_STATE\"", "SIGI_STATE script without </script>" },
    };
    profile_tiktok_user_t u;
    const char *why;
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        why = NULL;
        assert_int_equal(parse(pages[i].page, &u, &why), PROFILE_PAGE_MALFORMED);
        assert_non_null(why);
        if (!strstr(why, pages[i].why))
            fail_msg("page %lu: \"%s\" does not say \"%s\"", (unsigned long)i, why,
                     pages[i].why);
        assert_null(u.user_id);
    }
}

/* Every prefix of a good page, as a truncated download would give: never OK before the
 * script ends, and never a read past the prefix (valgrind). */
static void test_truncated(void **state)
{
    const char *end = strstr(normal_page, "</script>" TAIL);
    apr_size_t n, complete = (apr_size_t)(end - normal_page) + strlen("</script");
    profile_tiktok_user_t u;

    (void)state;
    for (n = 0; n < complete; n++)
        assert_int_not_equal(parse_n(normal_page, n, &u, NULL), PROFILE_PAGE_OK);
    assert_int_equal(parse_n(normal_page, complete, &u, NULL), PROFILE_PAGE_OK);
}

/* A NUL byte in the page ends nothing: the length does. */
static void test_nul_in_page(void **state)
{
    static const char page[] = "<html>\0<script id=\"SIGI_STATE\">"
        "{\"UserModule\":{\"users\":{\"x\":{\"uniqueId\":\"x\"}}}}</script>";
    profile_tiktok_user_t u;

    (void)state;
    assert_int_equal(parse_n(page, sizeof(page) - 1, &u, NULL), PROFILE_PAGE_OK);
    assert_string_equal(u.unique_id, "x");
}

static int utf8_valid(const char *s)
{
    const unsigned char *b = (const unsigned char *)s;
    int n;

    while (*b) {
        n = *b < 0x80 ? 0 : (*b & 0xe0) == 0xc0 ? 1 : (*b & 0xf0) == 0xe0 ? 2
          : (*b & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0)
            return 0;
        for (b++; n > 0; n--, b++)
            if ((*b & 0xc0) != 0x80)
                return 0;
    }
    return 1;
}

static void test_oversized_fields(void **state)
{
    char *nickname = apr_palloc(pool, 302), *bio = apr_palloc(pool, 3 * 700 + 1);
    char *id = apr_palloc(pool, 101), *url = apr_palloc(pool, 1100 + 1);
    char *page;
    profile_tiktok_user_t u;
    int i;

    (void)state;
    nickname[0] = 'a';                      /* 'a' then 150 × "é": byte 256 splits an é */
    for (i = 0; i < 150; i++)
        memcpy(nickname + 1 + 2 * i, "\xc3\xa9", 2);
    nickname[301] = '\0';
    for (i = 0; i < 700; i++)               /* 700 × "€": 1024 = 341 × 3 + 1 */
        memcpy(bio + 3 * i, "\xe2\x82\xac", 3);
    bio[2100] = '\0';
    memset(id, '9', 100);
    id[100] = '\0';
    memcpy(url, "https://cdn.example/", 20);
    memset(url + 20, 'a', 1080);
    url[1100] = '\0';
    page = apr_pstrcat(pool, HEAD UNIVERSAL_OPEN
                       "{\"__DEFAULT_SCOPE__\":{\"webapp.user-detail\":{\"userInfo\":{\"user\":{"
                       "\"id\":\"", id, "\",\"uniqueId\":\"", id, "\",\"nickname\":\"", nickname,
                       "\",\"signature\":\"", bio, "\",\"avatarLarger\":\"", url,
                       "\",\"avatarMedium\":\"", apr_pstrndup(pool, url, 1024),
                       "\"}}}}}</script>" TAIL, NULL);
    assert_int_equal(parse(page, &u, NULL), PROFILE_PAGE_OK);
    assert_int_equal(strlen(u.user_id), 64);
    assert_int_equal(strlen(u.unique_id), 64);
    assert_int_equal(strlen(u.nickname), 255);
    assert_true(utf8_valid(u.nickname));
    assert_memory_equal(u.nickname, nickname, 255);
    assert_int_equal(strlen(u.bio), 1023);
    assert_true(utf8_valid(u.bio));
    assert_null(u.avatar_large);            /* a cut URL is a wrong URL: dropped */
    assert_non_null(u.avatar_medium);       /* exactly 1024 bytes is still fine */
    assert_int_equal(strlen(u.avatar_medium), 1024);
}

static void test_avatar_schemes(void **state)
{
    static const struct {
        const char *json;
        const char *url;       /* NULL: dropped */
    } cases[] = {
        { "https:\\u002F\\u002Fcdn.example\\u002Fa.jpg", "https://cdn.example/a.jpg" },
        { "http://cdn.example/a.jpg", "http://cdn.example/a.jpg" },
        { "HTTPS://CDN.EXAMPLE/A.JPG", "HTTPS://CDN.EXAMPLE/A.JPG" },
        { "javascript:alert(1)", NULL },
        { "data:image/png;base64,iVBORw0KGgo=", NULL },
        { "//cdn.example/a.jpg", NULL },
        { "ftp://cdn.example/a.jpg", NULL },
        { "https://", NULL },
        { "https://cdn.example/a b.jpg", NULL },
        { "https://cdn.example/a\\\".jpg", NULL },
        { "https://cdn.example/a\\r\\nSet-Cookie: x", NULL },
        { "https://cdn.example/\\u00e9.jpg", NULL },
        { "", NULL },
    };
    profile_tiktok_user_t u;
    const char *page;
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        page = apr_pstrcat(pool, HEAD UNIVERSAL_OPEN
                           "{\"__DEFAULT_SCOPE__\":{\"webapp.user-detail\":{\"userInfo\":{"
                           "\"user\":{\"avatarThumb\":\"", cases[i].json,
                           "\",\"avatarLarger\":7}}}}}</script>", NULL);
        assert_int_equal(parse(page, &u, NULL), PROFILE_PAGE_OK);
        if (cases[i].url)
            assert_string_equal(u.avatar_thumb, cases[i].url);
        else if (u.avatar_thumb)
            fail_msg("case %lu: \"%s\" kept", (unsigned long)i, u.avatar_thumb);
        assert_null(u.avatar_large);
    }
}

static void test_numbers_and_strings(void **state)
{
    static const char page[] = UNIVERSAL_PAGE(
        "{\"userInfo\":{\"user\":{\"id\":6812345678901234567,\"uniqueId\":\"\","
        "\"verified\":1,\"privateAccount\":\"no\"},"
        "\"stats\":{\"followerCount\":\"12345\",\"followingCount\":\"12a\","
        "\"heartCount\":-5,\"videoCount\":7.0},"
        "\"statsV2\":{\"followingCount\":\"99\",\"heartCount\":\"123456789012345678\","
        "\"videoCount\":\"1\"}},\"statusCode\":\"0\"}");
    static const char v2_only[] = UNIVERSAL_PAGE(
        "{\"userInfo\":{\"user\":{},\"statsV2\":{\"followerCount\":\"1234567890123456789\","
        "\"followingCount\":\"\",\"heartCount\":\" 5\",\"videoCount\":\"0\"}}}");
    profile_tiktok_user_t u;

    (void)state;
    assert_int_equal(parse(page, &u, NULL), PROFILE_PAGE_OK);
    assert_string_equal(u.user_id, "6812345678901234567");
    assert_null(u.unique_id);               /* empty is no id */
    assert_null(u.nickname);
    assert_int_equal(u.verified, 1);
    assert_int_equal(u.private_account, -1);
    assert_int_equal(u.followers, 12345);
    assert_int_equal(u.following, 99);      /* "12a" is no count: statsV2 has one */
    assert_int_equal(u.likes, 123456789012345678LL);
    assert_int_equal(u.videos, 7);

    assert_int_equal(parse(v2_only, &u, NULL), PROFILE_PAGE_OK);
    assert_int_equal(u.followers, -1);      /* more digits than an int64 surely holds */
    assert_int_equal(u.following, -1);
    assert_int_equal(u.likes, -1);
    assert_int_equal(u.videos, 0);
    assert_int_equal(u.verified, -1);
}

static void test_init(void **state)
{
    profile_tiktok_user_t u;

    (void)state;
    memset(&u, 0x5a, sizeof(u));
    profile_tiktok_user_init(&u);
    assert_null(u.user_id);
    assert_null(u.unique_id);
    assert_null(u.nickname);
    assert_null(u.bio);
    assert_null(u.avatar_thumb);
    assert_null(u.avatar_medium);
    assert_null(u.avatar_large);
    assert_int_equal(u.verified, -1);
    assert_int_equal(u.private_account, -1);
    assert_int_equal(u.followers, -1);
    assert_int_equal(u.following, -1);
    assert_int_equal(u.likes, -1);
    assert_int_equal(u.videos, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_private_account),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_sigi_state),
        cmocka_unit_test(test_blocked),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_nul_in_page),
        cmocka_unit_test(test_oversized_fields),
        cmocka_unit_test(test_avatar_schemes),
        cmocka_unit_test(test_numbers_and_strings),
        cmocka_unit_test(test_init),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("page_parse", tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
