/* Profile extraction from TikTok profile pages; see page_parse.h. The page is upstream
 * input: every scan stays within len, and every field copied out is bounded so a hostile
 * page cannot make a cache entry large. */
#include <apr_strings.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "html_script.h"
#include "profiles/page_parse.h"

#define UNIVERSAL_ID "__UNIVERSAL_DATA_FOR_REHYDRATION__"
#define SIGI_ID "SIGI_STATE"

/* Byte bounds of the fields copied out of a page. */
#define ID_MAX 64
#define NICKNAME_MAX 256
#define BIO_MAX 1024
#define URL_MAX 1024

/* A digit string longer than this could overflow apr_int64_t. */
#define COUNT_DIGITS_MAX 18

void profile_tiktok_user_init(profile_tiktok_user_t *u)
{
    memset(u, 0, sizeof(*u));
    u->verified = -1;
    u->private_account = -1;
    u->followers = -1;
    u->following = -1;
    u->likes = -1;
    u->videos = -1;
}

/* A non-negative count from a number or a string of digits (TikTok's statsV2 and some
 * status codes are strings); -1 for anything else. */
static apr_int64_t count_of(json_t *v)
{
    const char *s;
    apr_size_t i, n;
    apr_int64_t c = 0;
    double d;

    if (json_is_integer(v))
        return json_integer_value(v) >= 0 ? (apr_int64_t)json_integer_value(v) : -1;
    if (json_is_real(v)) {
        d = json_real_value(v);
        return d >= 0 && d < 9e18 ? (apr_int64_t)d : -1;
    }
    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 || n > COUNT_DIGITS_MAX)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        c = c * 10 + (s[i] - '0');
    }
    return c;
}

/* 1 / 0 from a boolean (or 1 / 0), -1 for anything else. */
static int flag_of(json_t *v)
{
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        return (int)json_integer_value(v);
    return -1;
}

/* A string of at most max bytes, cut before a UTF-8 sequence it would split (jansson has
 * already checked the encoding); NULL when v is no string. */
static const char *text_of(apr_pool_t *p, json_t *v, apr_size_t max)
{
    const char *s = json_string_value(v);
    apr_size_t n = json_string_length(v);

    if (!s)
        return NULL;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    return apr_pstrndup(p, s, n);
}

/* Ids come as strings or numbers; an empty one is no id. */
static const char *id_of(apr_pool_t *p, json_t *v)
{
    if (json_is_integer(v))
        return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v));
    if (json_string_length(v) == 0)
        return NULL;
    return text_of(p, v, ID_MAX);
}

/* An http(s) URL of at most URL_MAX bytes made only of characters a URL may hold, or NULL:
 * it is handed to clients as an image source, so a cut one or a javascript: one is worse
 * than none. */
static const char *url_of(apr_pool_t *p, json_t *v)
{
    const char *s = json_string_value(v);
    apr_size_t n = json_string_length(v), i, scheme;
    unsigned char c;

    if (!s || n > URL_MAX)
        return NULL;
    scheme = strncasecmp(s, "https://", 8) == 0 ? 8 : strncasecmp(s, "http://", 7) == 0 ? 7 : 0;
    if (!scheme || n == scheme)
        return NULL;
    for (i = 0; i < n; i++) {
        c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c))
            return NULL;
    }
    return apr_pstrmemdup(p, s, n);
}

/* A statistic from stats, else from the string-valued statsV2 (absent on older pages). */
static apr_int64_t stat_of(json_t *stats, json_t *stats_v2, const char *name)
{
    apr_int64_t n = count_of(json_object_get(stats, name));

    return n >= 0 ? n : count_of(json_object_get(stats_v2, name));
}

static void fill_user(apr_pool_t *p, json_t *user, json_t *stats, json_t *stats_v2,
                      profile_tiktok_user_t *u)
{
    u->user_id = id_of(p, json_object_get(user, "id"));
    u->unique_id = id_of(p, json_object_get(user, "uniqueId"));
    u->nickname = text_of(p, json_object_get(user, "nickname"), NICKNAME_MAX);
    u->bio = text_of(p, json_object_get(user, "signature"), BIO_MAX);
    u->verified = flag_of(json_object_get(user, "verified"));
    u->private_account = flag_of(json_object_get(user, "privateAccount"));
    u->avatar_thumb = url_of(p, json_object_get(user, "avatarThumb"));
    u->avatar_medium = url_of(p, json_object_get(user, "avatarMedium"));
    u->avatar_large = url_of(p, json_object_get(user, "avatarLarger"));
    u->followers = stat_of(stats, stats_v2, "followerCount");
    u->following = stat_of(stats, stats_v2, "followingCount");
    u->likes = stat_of(stats, stats_v2, "heartCount");
    if (u->likes < 0)
        u->likes = stat_of(stats, stats_v2, "heart");
    u->videos = stat_of(stats, stats_v2, "videoCount");
}

/* The verdict of a page's status code and user object. Besides 10221, TikTok answers 10222
 * and 10202 for accounts that are gone or banned: to a client all three are "no such user". */
static profile_page_status_t take_user(apr_pool_t *p, json_t *status, json_t *user,
                                       json_t *stats, json_t *stats_v2,
                                       profile_tiktok_user_t *u, const char **reason)
{
    apr_int64_t code = count_of(status);

    if (code == 10221 || code == 10222 || code == 10202)
        return PROFILE_PAGE_NOT_FOUND;
    if (!json_is_object(user)) {
        *reason = code > 0 ? apr_psprintf(p, "statusCode %" APR_INT64_T_FMT " and no user", code)
                           : "no user in the page data";
        return PROFILE_PAGE_MALFORMED;
    }
    fill_user(p, user, stats, stats_v2, u);
    return PROFILE_PAGE_OK;
}

static profile_page_status_t from_universal(apr_pool_t *p, json_t *root,
                                            profile_tiktok_user_t *u, const char **reason)
{
    json_t *detail = json_object_get(json_object_get(root, "__DEFAULT_SCOPE__"),
                                     "webapp.user-detail");
    json_t *info = json_object_get(detail, "userInfo");

    if (!json_is_object(detail)) {
        *reason = "no __DEFAULT_SCOPE__[\"webapp.user-detail\"] in " UNIVERSAL_ID;
        return PROFILE_PAGE_MALFORMED;
    }
    return take_user(p, json_object_get(detail, "statusCode"), json_object_get(info, "user"),
                     json_object_get(info, "stats"), json_object_get(info, "statsV2"), u,
                     reason);
}

/* SIGI_STATE keys users by TikTok's own spelling of the name, which may differ from the
 * one asked for: the page is about one user, so the first entry is it. */
static profile_page_status_t from_sigi(apr_pool_t *p, json_t *root, profile_tiktok_user_t *u,
                                       const char **reason)
{
    json_t *module = json_object_get(root, "UserModule");
    void *it = json_object_iter(json_object_get(module, "users"));
    const char *key = it ? json_object_iter_key(it) : NULL;

    return take_user(p, json_object_get(json_object_get(root, "UserPage"), "statusCode"),
                     it ? json_object_iter_value(it) : NULL,
                     key ? json_object_get(json_object_get(module, "stats"), key) : NULL, NULL,
                     u, reason);
}

profile_page_status_t profile_page_parse(apr_pool_t *p, const char *html, apr_size_t len,
                                         profile_tiktok_user_t *u, const char **why)
{
    const char *id = UNIVERSAL_ID, *body = NULL, *reason = NULL;
    apr_size_t body_len = 0;
    profile_page_status_t st = PROFILE_PAGE_MALFORMED;
    json_error_t err;
    json_t *root;
    int found, sigi = 0;

    profile_tiktok_user_init(u);
    found = live_html_script(html, len, id, &body, &body_len);
    if (found == 0) {
        sigi = 1;
        id = SIGI_ID;
        found = live_html_script(html, len, id, &body, &body_len);
    }
    if (found == 0) {
        st = PROFILE_PAGE_BLOCKED;
        reason = "no " UNIVERSAL_ID " or " SIGI_ID " script";
    }
    else if (found < 0)
        reason = apr_psprintf(p, "%s script without </script>", id);
    else if (!(root = json_loadb(body, body_len, 0, &err)))
        reason = apr_psprintf(p, "JSON error at line %d: %s", err.line, err.text);
    else {
        st = sigi ? from_sigi(p, root, u, &reason)
                           : from_universal(p, root, u, &reason);
        json_decref(root);
    }
    if (why)
        *why = reason;
    return st;
}
