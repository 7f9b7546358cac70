/* The profile answer's JSON text and the avatar tier names; see profile_json.h. */
#include <apr_strings.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profiles/profile_json.h"
#include "util/json_text.h"

static const char *const tier_names[PROFILE_TIER_COUNT] = {
    "live", "scraper", "generator", "initials",
};

const char *profile_tier_name(int tier)
{
    return tier >= 0 && tier < PROFILE_TIER_COUNT ? tier_names[tier] : NULL;
}

int profile_tier_parse(const char *name)
{
    int i;

    for (i = 0; name && i < PROFILE_TIER_COUNT; i++)
        if (strcasecmp(name, tier_names[i]) == 0)
            return i;
    return -1;
}

static json_t *flag_json(int flag)
{
    return flag < 0 ? json_null() : json_boolean(flag);
}

static json_t *count_json(apr_int64_t n)
{
    return n < 0 ? json_null() : json_integer((json_int_t)n);
}

/* Whole seconds: the answer's times are cache bookkeeping, not event times, and the
 * documented shape is "2026-11-24T10:00:00Z". */
static json_t *time_json(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t e;

    if (!t)
        return json_null();
    apr_time_exp_gmt(&e, t);
    return json_string(apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", e.tm_year + 1900,
                                    e.tm_mon + 1, e.tm_mday, e.tm_hour, e.tm_min, e.tm_sec));
}

const char *profile_json_render(apr_pool_t *p, const profile_view_t *v, apr_size_t *len)
{
    const profile_tiktok_user_t *u = &v->user;
    json_t *o = json_object(), *avatar = json_object(), *stats = json_object();
    const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
    size_t size;
    char *text;

    json_object_set_new(o, "username", profile_json_text_or_null(u->unique_id ? u->unique_id : v->username));
    json_object_set_new(o, "user_id", profile_json_text_or_null(u->user_id));
    json_object_set_new(o, "nickname", profile_json_text_or_null(u->nickname));
    json_object_set_new(o, "bio", profile_json_text_or_null(u->bio));
    json_object_set_new(o, "verified", flag_json(u->verified));
    json_object_set_new(o, "private", flag_json(u->private_account));
    json_object_set_new(avatar, "url", profile_json_text_or_null(v->avatar_url));
    json_object_set_new(avatar, "source", profile_json_text_or_null(profile_tier_name(v->tier)));
    json_object_set_new(avatar, "thumb", profile_json_text_or_null(v->avatar_thumb));
    json_object_set_new(avatar, "medium", profile_json_text_or_null(v->avatar_medium));
    json_object_set_new(avatar, "large", profile_json_text_or_null(v->avatar_large));
    json_object_set_new(o, "avatar", avatar);
    json_object_set_new(stats, "followers", count_json(u->followers));
    json_object_set_new(stats, "following", count_json(u->following));
    json_object_set_new(stats, "likes", count_json(u->likes));
    json_object_set_new(stats, "videos", count_json(u->videos));
    json_object_set_new(o, "stats", stats);
    json_object_set_new(o, "fetched_at", time_json(p, v->fetched_at));
    json_object_set_new(o, "expires_at", time_json(p, v->expires_at));

    /* Measured first, then written straight into the pool: no malloc'd copy to free. */
    size = json_dumpb(o, NULL, 0, flags);
    if (size < 2)
        abort();                /* jansson out of memory: the end APR's pools meet too */
    text = apr_palloc(p, size);
    json_dumpb(o, text, size, flags);
    json_decref(o);
    text[size - 1] = '\0';      /* the closing brace, added back by profile_json_finish */
    *len = size - 1;
    return text;
}

const char *profile_json_finish(apr_pool_t *p, const char *body, apr_size_t len, int stale,
                                apr_size_t *out_len)
{
    const char *tail = stale ? ",\"stale\":true}" : ",\"stale\":false}";
    apr_size_t tail_len = strlen(tail);
    char *out = apr_palloc(p, len + tail_len + 1);

    memcpy(out, body, len);
    memcpy(out + len, tail, tail_len + 1);
    *out_len = len + tail_len;
    return out;
}
