/* Extraction of a profile from a TikTok profile page (GET <base>/@<username>): the JSON in
 * <script id="__UNIVERSAL_DATA_FOR_REHYDRATION__">, __DEFAULT_SCOPE__["webapp.user-detail"]
 * (statusCode 10221 = no such user; userInfo.user, userInfo.stats), with the legacy
 * <script id="SIGI_STATE"> (UserModule.users[name], UserModule.stats[name],
 * UserPage.statusCode) as fallback. Pure (APR, jansson): unit tested on sample pages. */
#ifndef PROFILE_PAGE_PARSE_H
#define PROFILE_PAGE_PARSE_H

#include <apr_pools.h>

/* What a profile page says about a user. Strings are NULL when the page has none; flags
 * and counts are -1 when unknown. */
typedef struct {
    const char *user_id;
    const char *unique_id;     /* TikTok's spelling of the username */
    const char *nickname;
    const char *bio;           /* "signature" */
    int verified;
    int private_account;
    apr_int64_t followers;
    apr_int64_t following;
    apr_int64_t likes;         /* "heartCount" (or "heart") */
    apr_int64_t videos;
    const char *avatar_thumb;  /* avatarThumb, avatarMedium, avatarLarger: http(s) URLs only */
    const char *avatar_medium;
    const char *avatar_large;
} profile_tiktok_user_t;

/* Sets every field of u to "unknown". */
void profile_tiktok_user_init(profile_tiktok_user_t *u);

typedef enum {
    PROFILE_PAGE_OK,           /* *u filled */
    PROFILE_PAGE_NOT_FOUND,    /* statusCode 10221 (or the legacy equivalent) */
    PROFILE_PAGE_BLOCKED,      /* neither script: a captcha, WAF or login wall */
    PROFILE_PAGE_MALFORMED     /* a script whose JSON does not parse or lacks the user */
} profile_page_status_t;

/* Parses html (len bytes, not necessarily NUL-terminated). *why (may be NULL) gets a short
 * reason for BLOCKED and MALFORMED, e.g. "no __UNIVERSAL_DATA_FOR_REHYDRATION__ or
 * SIGI_STATE script" or "JSON error at line 1: …". Strings in *u are copied into p. */
profile_page_status_t profile_page_parse(apr_pool_t *p, const char *html, apr_size_t len,
                                         profile_tiktok_user_t *u, const char **why);

#endif
