/* The Redis backend: the GCRA script and the reading of its answer. Connections come from
 * util/redis_pool.h; nothing is logged here: the caller logs once per outage. */
#include <apr_strings.h>
#include "ratelimit/rl_redis.h"
#include "util/redis_pool.h"

#define RL_REDIS_KEY_PREFIX "profile:rl:"

/* GCRA (same formulas as gcra.h) in integer microseconds on Redis's clock. KEYS[1] holds the
 * TAT; ARGV: emission interval T, capacity (burst × T). Lua numbers are doubles, exact for
 * integers below 2^53 (µs since the epoch are about 2^51). Redis 7 replicates a script's
 * effects, not the script, so reading TIME before a write is allowed. Returns {allowed,
 * remaining, retry_after_us, reset_after_us}; an allowed decision stores the new TAT with an
 * expiry of its reset time, after which an absent key means a full bucket. */
static profile_redis_script_t rl_script = PROFILE_REDIS_SCRIPT(
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000000 + t[2]\n"
    "local T = tonumber(ARGV[1])\n"
    "local cap = tonumber(ARGV[2])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1])) or now\n"
    "if tat < now then tat = now end\n"
    "local diff = tat + T - now\n"
    "if diff <= cap then\n"
    "  redis.call('SET', KEYS[1], tat + T, 'PX', math.floor(diff / 1000) + 1)\n"
    "  return {1, math.floor((cap - diff) / T), 0, diff}\n"
    "end\n"
    "return {0, 0, diff - cap, tat - now}\n");

/* {allowed, remaining, retry_after_us, reset_after_us} into out; -1 for any other shape. */
static int read_decision(const redisReply *reply, profile_gcra_result_t *out)
{
    size_t i;

    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4)
        return -1;
    for (i = 0; i < 4; i++)
        if (reply->element[i]->type != REDIS_REPLY_INTEGER)
            return -1;
    out->allowed = reply->element[0]->integer == 1;
    out->remaining = (int)reply->element[1]->integer;
    out->retry_after_us = reply->element[2]->integer;
    out->reset_after_us = reply->element[3]->integer;
    out->new_tat = 0;          /* kept in Redis */
    return 0;
}

int profile_rl_redis_decide(request_rec *r, const char *key, const profile_gcra_t *g,
                            profile_gcra_result_t *out)
{
    char emission[24], capacity[24];
    const char *argv[3];
    redisContext *c;
    redisReply *reply;
    int rc;

    apr_snprintf(emission, sizeof(emission), "%" APR_INT64_T_FMT, g->emission_us);
    apr_snprintf(capacity, sizeof(capacity), "%" APR_INT64_T_FMT, g->capacity_us);
    if (!(c = profile_redis_pool_acquire(r->server)))
        return -1;
    argv[0] = apr_pstrcat(r->pool, RL_REDIS_KEY_PREFIX, key, NULL);
    argv[1] = emission;
    argv[2] = capacity;
    reply = profile_redis_eval(c, &rl_script, 1, 3, argv, NULL);
    rc = read_decision(reply, out);
    if (reply)
        freeReplyObject(reply);
    profile_redis_pool_release(r->server, c);
    return rc;
}
