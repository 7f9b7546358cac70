/* The Redis cache layer and leases (see cache_redis.h). Keys:
 *   profile:cache:e:<username>  the entry, profile_cache_entry_encode()
 *   profile:cache:lru           sorted set of usernames, score = last use (ms, Redis's clock)
 *   profile:cache:exp           sorted set of usernames, score = expires_at (ms)
 *   profile:cache:meta          hash: bytes (keys + values held), evictions
 *   profile:flight:<username>   a single-flight lease: a random token, PX = the lease
 * Every operation is one Lua script (EVALSHA), so the entry, both sets and the byte count
 * change together; the scripts need Redis 5 or later (ZPOPMIN, TIME before writes) and a
 * single Redis, not a cluster (eviction works out the keys of the entries it drops).
 *
 * The entries get no Redis TTL: the layer bounds itself (ProfileCacheMaxEntries and
 * ProfileCacheMaxMemory, least recently used first, entries past stale_until dropped when
 * read, clear-expired on demand), and keys with a TTL are exactly what the common volatile-*
 * maxmemory policies evict behind our back. A Redis shared with other data must therefore not
 * use an allkeys-* maxmemory-policy (or must leave room for this cache). Should a key vanish
 * anyway, the scripts cope: a read misses and drops its set members, eviction skips it, and
 * the byte count, which would then stay too high, is reset when the LRU set runs empty.
 * Leases do carry a TTL: that is what lets a dead fetcher's lease lapse. */
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include "cache/cache_redis.h"
#include "config/config.h"
#include "util/redis_connect.h"
#include "util/redis_pool.h"

#define KEY_ENTRY "profile:cache:e:"
#define KEY_LRU "profile:cache:lru"
#define KEY_EXP "profile:cache:exp"
#define KEY_META "profile:cache:meta"
#define KEY_FLIGHT "profile:flight:"
#define RETRY_US APR_USEC_PER_SEC
/* A stored value: the encoded header (under 128 bytes) and a body of at most BODY_MAX. */
#define VALUE_MAX (PROFILE_CACHE_BODY_MAX + 256)
/* clear-expired removes this many entries per round trip, so no script runs for long. */
#define CLEAR_BATCH 500
#define CLEAR_ROUNDS_MAX 10000

/* KEYS[1] lru, KEYS[2] exp, KEYS[3] meta in every cache script. drop(m) removes member m
 * and its entry and tells whether the entry was there. */
#define LUA_COMMON \
    "local function drop(m)\n" \
    "  local k = '" KEY_ENTRY "' .. m\n" \
    "  local n = redis.call('STRLEN', k)\n" \
    "  if n > 0 then\n" \
    "    redis.call('DEL', k)\n" \
    "    redis.call('HINCRBY', KEYS[3], 'bytes', -(n + #k))\n" \
    "  end\n" \
    "  redis.call('ZREM', KEYS[1], m)\n" \
    "  redis.call('ZREM', KEYS[2], m)\n" \
    "  return n > 0\n" \
    "end\n" \
    "local function touch(m)\n" \
    "  local t = redis.call('TIME')\n" \
    "  redis.call('ZADD', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000), m)\n" \
    "end\n"

/* KEYS[4] the entry; ARGV: username, now (µs), longest value. The value, or nil (absent,
 * unreadable, too long or past stale_until: then dropped). */
static profile_redis_script_t get_script = PROFILE_REDIS_SCRIPT(
    LUA_COMMON
    "local v = redis.call('GET', KEYS[4])\n"
    "if not v then\n"
    "  redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "  redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "  return false\n"
    "end\n"
    "local stale = tonumber(string.match(v, '^v1 %S+ %S+ %S+ %S+ (%d+) '))\n"
    "if #v > tonumber(ARGV[3]) or not stale or stale <= tonumber(ARGV[2]) then\n"
    "  drop(ARGV[1])\n"
    "  return false\n"
    "end\n"
    "touch(ARGV[1])\n"
    "return v\n");

/* KEYS[4] the entry; ARGV: username, value, expires_at (ms), max entries, max bytes. Evicts
 * least recently used entries while over either limit; returns how many. */
static profile_redis_script_t put_script = PROFILE_REDIS_SCRIPT(
    LUA_COMMON
    "local old = redis.call('STRLEN', KEYS[4])\n"
    "redis.call('SET', KEYS[4], ARGV[2])\n"
    "touch(ARGV[1])\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])\n"
    "local delta = #ARGV[2] + #KEYS[4]\n"
    "if old > 0 then delta = #ARGV[2] - old end\n"
    "local bytes = redis.call('HINCRBY', KEYS[3], 'bytes', delta)\n"
    "local n = redis.call('ZCARD', KEYS[1])\n"
    "local evicted = 0\n"
    "while n > tonumber(ARGV[4]) or bytes > tonumber(ARGV[5]) do\n"
    "  local m = redis.call('ZPOPMIN', KEYS[1])\n"
    "  if #m == 0 then\n"
    "    redis.call('HSET', KEYS[3], 'bytes', 0)\n"
    "    break\n"
    "  end\n"
    "  drop(m[1])\n"
    "  evicted = evicted + 1\n"
    "  n = n - 1\n"
    "  bytes = tonumber(redis.call('HGET', KEYS[3], 'bytes'))\n"
    "end\n"
    "if evicted > 0 then redis.call('HINCRBY', KEYS[3], 'evictions', evicted) end\n"
    "return evicted\n");

/* ARGV: username. 1 removed, 0 absent. */
static profile_redis_script_t delete_script = PROFILE_REDIS_SCRIPT(
    LUA_COMMON
    "if drop(ARGV[1]) then return 1 end\n"
    "return 0\n");

/* ARGV: now (ms), batch. Removes up to batch entries past expires_at; returns how many. */
static profile_redis_script_t clear_script = PROFILE_REDIS_SCRIPT(
    LUA_COMMON
    "local m = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "for i = 1, #m do drop(m[i]) end\n"
    "return #m\n");

/* ARGV: now (ms). {entries, bytes, evictions, expired}. */
static profile_redis_script_t stats_script = PROFILE_REDIS_SCRIPT(
    "return {redis.call('ZCARD', KEYS[1]),\n"
    "        tonumber(redis.call('HGET', KEYS[3], 'bytes')) or 0,\n"
    "        tonumber(redis.call('HGET', KEYS[3], 'evictions')) or 0,\n"
    "        redis.call('ZCOUNT', KEYS[2], '-inf', ARGV[1])}\n");

/* KEYS[1] the lease; ARGV: token. Compare and delete. */
static profile_redis_script_t release_script = PROFILE_REDIS_SCRIPT(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n");

/* Per process: after a failure no call is made until retry_at (µs); outage makes the warning
 * once per outage and the notice once when it ends. */
static volatile apr_uint64_t retry_at;
static volatile apr_uint32_t outage;

static void failed(server_rec *s, const char *why)
{
    apr_atomic_set64(&retry_at, (apr_uint64_t)(apr_time_now() + RETRY_US));
    if (apr_atomic_cas32(&outage, 1, 0) == 0)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(10743)
                     "Redis failed (%s): the profile cache and single flight are bypassed "
                     "until it answers again (retried every second)", why);
}

/* A connection, or NULL while Redis is failing. */
static redisContext *begin(server_rec *s)
{
    redisContext *c;

    if ((apr_uint64_t)apr_time_now() < apr_atomic_read64(&retry_at))
        return NULL;
    c = profile_redis_pool_acquire(s);
    if (!c)
        failed(s, "cannot connect, authenticate or select the database");
    return c;
}

/* Frees reply, gives c back and tracks the outage; NULL when ok(reply) held, else what
 * failed. */
static const char *finish(server_rec *s, apr_pool_t *p, redisContext *c, const char *what,
                          redisReply *reply, int (*ok)(const redisReply *))
{
    int timeout_ms = profile_rl_redis_timeout_ms(&profile_server_config(s)->rl);
    const char *why = profile_redis_expect(p, c, what, reply, ok, timeout_ms);

    if (why)
        failed(s, why);
    else if (apr_atomic_cas32(&outage, 0, 1) == 1)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(10744)
                     "Redis answers again: the profile cache is shared again");
    profile_redis_pool_release(s, c);
    return why;
}

static int is_string_or_nil(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL;
}

static int is_integer(const redisReply *r)
{
    return r->type == REDIS_REPLY_INTEGER;
}

static int is_status_or_nil(const redisReply *r)
{
    return r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_NIL;
}

static int is_stats(const redisReply *r)
{
    size_t i;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4)
        return 0;
    for (i = 0; i < 4; i++)
        if (r->element[i]->type != REDIS_REPLY_INTEGER)
            return 0;
    return 1;
}

static char *num(apr_pool_t *p, apr_int64_t n)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, n);
}

/* Runs a cache script: KEYS lru, exp, meta (then the entry key of username unless it is
 * NULL), then the arguments (lens: their lengths, or NULL for strings). The reply, or NULL. */
static redisReply *run(redisContext *c, apr_pool_t *p, profile_redis_script_t *script,
                       const char *username, int nargs, const char **args,
                       const size_t *lens)
{
    const char *argv[PROFILE_REDIS_EVAL_MAX_ARGS] = { KEY_LRU, KEY_EXP, KEY_META };
    size_t argvlen[PROFILE_REDIS_EVAL_MAX_ARGS];
    int nkeys = 3, i;

    if (username)
        argv[nkeys++] = apr_pstrcat(p, KEY_ENTRY, username, NULL);
    for (i = 0; i < nargs; i++)
        argv[nkeys + i] = args[i];
    for (i = 0; i < nkeys + nargs; i++)
        argvlen[i] = i >= nkeys && lens ? lens[i - nkeys] : strlen(argv[i]);
    return profile_redis_eval(c, script, nkeys, nkeys + nargs, argv, argvlen);
}

int profile_cache_redis_get(server_rec *s, apr_pool_t *p, const char *username,
                            apr_time_t now, profile_cache_entry_t *e)
{
    redisContext *c = begin(s);
    const char *args[3];
    redisReply *reply;
    int hit = 0;

    if (!c)
        return -1;
    args[0] = username;
    args[1] = num(p, now);
    args[2] = num(p, VALUE_MAX);
    reply = run(c, p, &get_script, username, 3, args, NULL);
    /* An entry that does not decode is a miss; the next put replaces it. */
    if (reply && reply->type == REDIS_REPLY_STRING)
        hit = profile_cache_entry_decode(p, reply->str, reply->len, e) == 0;
    return finish(s, p, c, "cache get", reply, is_string_or_nil) ? -1 : hit;
}

int profile_cache_redis_put(server_rec *s, apr_pool_t *p, const char *username,
                            const profile_cache_entry_t *e, apr_int64_t max_entries,
                            apr_int64_t max_bytes)
{
    redisContext *c = begin(s);
    const char *args[5];
    size_t lens[5];
    int i;

    if (!c)
        return -1;
    args[0] = username;
    args[1] = profile_cache_entry_encode(p, e, &lens[1]);
    args[2] = num(p, e->expires_at / 1000);
    args[3] = num(p, max_entries);
    args[4] = num(p, max_bytes);
    for (i = 0; i < 5; i++)
        if (i != 1)
            lens[i] = strlen(args[i]);
    return finish(s, p, c, "cache put", run(c, p, &put_script, username, 5, args, lens),
                  is_integer) ? -1 : 0;
}

int profile_cache_redis_delete(server_rec *s, apr_pool_t *p, const char *username)
{
    redisContext *c = begin(s);
    redisReply *reply;
    int removed = 0;

    if (!c)
        return -1;
    reply = run(c, p, &delete_script, NULL, 1, &username, NULL);
    if (reply && reply->type == REDIS_REPLY_INTEGER)
        removed = reply->integer == 1;
    return finish(s, p, c, "cache delete", reply, is_integer) ? -1 : removed;
}

apr_int64_t profile_cache_redis_clear_expired(server_rec *s, apr_pool_t *p, apr_time_t now)
{
    const char *args[2];
    apr_int64_t total = 0, n = CLEAR_BATCH;
    int rounds;

    args[0] = num(p, now / 1000);
    args[1] = num(p, CLEAR_BATCH);
    for (rounds = 0; n == CLEAR_BATCH && rounds < CLEAR_ROUNDS_MAX; rounds++) {
        redisContext *c = begin(s);
        redisReply *reply;

        if (!c)
            return -1;
        reply = run(c, p, &clear_script, NULL, 2, args, NULL);
        n = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
        if (finish(s, p, c, "cache clear-expired", reply, is_integer))
            return -1;
        total += n;
    }
    return total;
}

int profile_cache_redis_stats(server_rec *s, apr_pool_t *p, apr_time_t now,
                              profile_cache_redis_stats_t *out, const char **why)
{
    redisContext *c = begin(s);
    const char *arg = num(p, now / 1000);
    redisReply *reply;

    *why = "Redis does not answer";
    if (!c)
        return -1;
    reply = run(c, p, &stats_script, NULL, 1, &arg, NULL);
    if (reply && is_stats(reply)) {
        out->entries = reply->element[0]->integer;
        out->bytes = reply->element[1]->integer;
        out->evictions = reply->element[2]->integer;
        out->expired = reply->element[3]->integer;
    }
    *why = finish(s, p, c, "cache stats", reply, is_stats);
    return *why ? -1 : 0;
}

int profile_cache_redis_flight_acquire(server_rec *s, apr_pool_t *p, const char *username,
                                       const char *token, int lease_ms)
{
    redisContext *c = begin(s);
    const char *argv[6] = { "SET", NULL, NULL, "NX", "PX", NULL };
    redisReply *reply;
    int won = 0;

    if (!c)
        return -1;
    argv[1] = apr_pstrcat(p, KEY_FLIGHT, username, NULL);
    argv[2] = token;
    argv[5] = num(p, lease_ms > 0 ? lease_ms : 1);
    reply = redisCommandArgv(c, 6, argv, NULL);
    if (reply && reply->type == REDIS_REPLY_STATUS)
        won = 1;               /* OK; nil: the key exists, someone else holds the lease */
    return finish(s, p, c, "flight acquire", reply, is_status_or_nil) ? -1 : won;
}

void profile_cache_redis_flight_release(server_rec *s, apr_pool_t *p, const char *username,
                                        const char *token)
{
    redisContext *c = begin(s);
    const char *argv[2];

    if (!c)
        return;                /* the lease lapses by itself */
    argv[0] = apr_pstrcat(p, KEY_FLIGHT, username, NULL);
    argv[1] = token;
    finish(s, p, c, "flight release", profile_redis_eval(c, &release_script, 1, 2, argv, NULL),
           is_integer);
}
