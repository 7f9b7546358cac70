/* The Redis backend. Each child process keeps, per distinct ProfileRedis target, a LIFO of
 * idle hiredis connections under a mutex: a thread takes one for a decision and gives it back,
 * so no connection is ever used by two threads at once. At most ProfileRedisPool connections
 * are kept idle; a thread that finds none opens its own (connect timeout ProfileRedisTimeout),
 * and one that finds the stack full closes its connection. A connection that failed (I/O
 * error, timeout) is closed, never pooled: the next decision reconnects, which is how Redis
 * coming back is picked up. Nothing is logged here: the caller logs once per outage. */
#include <string.h>
#include <hiredis.h>
#include <openssl/sha.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include "config/config.h"
#include "ratelimit/rl_redis.h"
#include "util/redis_connect.h"

#define RL_REDIS_KEY_PREFIX "profile:rl:"

/* GCRA (same formulas as gcra.h) in integer microseconds on Redis's clock. KEYS[1] holds the
 * TAT; ARGV: emission interval T, capacity (burst × T). Lua numbers are doubles, exact for
 * integers below 2^53 (µs since the epoch are about 2^51). Redis 7 replicates a script's
 * effects, not the script, so reading TIME before a write is allowed. Returns {allowed,
 * remaining, retry_after_us, reset_after_us}; an allowed decision stores the new TAT with an
 * expiry of its reset time, after which an absent key means a full bucket. */
static const char rl_script[] =
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
    "return {0, 0, diff - cap, tat - now}\n";

static char rl_script_sha[SHA_DIGEST_LENGTH * 2 + 1];

typedef struct {
    apr_thread_mutex_t *lock;
    redisContext **idle;       /* LIFO: the most recently used connection is reused first */
    int n_idle;
    int max_idle;
    const profile_redis_target_t *target;
    int timeout_ms;            /* connect and command */
} rl_redis_pool_t;

/* server_rec * → pool; written in child_init only, read-only afterwards. */
static apr_hash_t *rl_redis_pools;

static void script_sha_init(void)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    int i;

    SHA1((const unsigned char *)rl_script, sizeof(rl_script) - 1, md);
    for (i = 0; i < SHA_DIGEST_LENGTH; i++)
        apr_snprintf(rl_script_sha + 2 * i, 3, "%02x", md[i]);
}

static apr_status_t pool_cleanup(void *data)
{
    rl_redis_pool_t *pool = data;

    while (pool->n_idle > 0)
        redisFree(pool->idle[--pool->n_idle]);
    return APR_SUCCESS;
}

/* Virtual hosts with the same target and settings share one pool. */
static const char *pool_key(apr_pool_t *p, const profile_server_config_t *c)
{
    const profile_redis_target_t *t = c->redis;

    return apr_psprintf(p, "%s|%d|%s|%s|%d|%d|%d", t->host ? t->host : "", t->port,
                        t->socket_path ? t->socket_path : "", t->password ? t->password : "",
                        t->db, profile_rl_redis_timeout_ms(&c->rl),
                        profile_rl_redis_pool_max(&c->rl));
}

void profile_rl_redis_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_t *by_target = apr_hash_make(pchild);

    script_sha_init();
    rl_redis_pools = apr_hash_make(pchild);
    for (; s; s = s->next) {
        profile_server_config_t *c = profile_server_config(s);
        rl_redis_pool_t *pool;
        server_rec **server;   /* the hash key: the pointer's value */
        const char *key;

        if (!c->redis)
            continue;
        key = pool_key(pchild, c);
        pool = apr_hash_get(by_target, key, APR_HASH_KEY_STRING);
        if (!pool) {
            pool = apr_pcalloc(pchild, sizeof(*pool));
            if (apr_thread_mutex_create(&pool->lock, APR_THREAD_MUTEX_DEFAULT, pchild)
                != APR_SUCCESS)
                continue;      /* no pool: decisions fail over to on_failure */
            pool->max_idle = profile_rl_redis_pool_max(&c->rl);
            pool->idle = apr_pcalloc(pchild, sizeof(redisContext *) * (apr_size_t)pool->max_idle);
            pool->target = c->redis;
            pool->timeout_ms = profile_rl_redis_timeout_ms(&c->rl);
            apr_pool_cleanup_register(pchild, pool, pool_cleanup, apr_pool_cleanup_null);
            apr_hash_set(by_target, key, APR_HASH_KEY_STRING, pool);
        }
        server = apr_palloc(pchild, sizeof(*server));
        *server = s;
        apr_hash_set(rl_redis_pools, server, sizeof(*server), pool);
    }
}

static redisContext *pool_connect(const rl_redis_pool_t *pool)
{
    return profile_redis_connect(pool->target, pool->timeout_ms, pool->timeout_ms, NULL, NULL);
}

static redisContext *pool_acquire(rl_redis_pool_t *pool)
{
    redisContext *c = NULL;

    apr_thread_mutex_lock(pool->lock);
    if (pool->n_idle > 0)
        c = pool->idle[--pool->n_idle];
    apr_thread_mutex_unlock(pool->lock);
    return c ? c : pool_connect(pool);
}

static void pool_release(rl_redis_pool_t *pool, redisContext *c)
{
    if (c->err) {
        /* The idle connections saw the same outage (a restarted Redis closed them all):
         * dropping them now lets the next decision reconnect instead of failing on each. */
        redisContext *stale[PROFILE_RL_REDIS_POOL_LIMIT];
        int n, i;
        redisFree(c);
        apr_thread_mutex_lock(pool->lock);
        n = pool->n_idle;
        memcpy(stale, pool->idle, sizeof(*stale) * (apr_size_t)n);
        pool->n_idle = 0;
        apr_thread_mutex_unlock(pool->lock);
        for (i = 0; i < n; i++)
            redisFree(stale[i]);
        return;
    }
    apr_thread_mutex_lock(pool->lock);
    if (pool->n_idle < pool->max_idle) {
        pool->idle[pool->n_idle++] = c;
        c = NULL;
    }
    apr_thread_mutex_unlock(pool->lock);
    if (c)
        redisFree(c);
}

static int is_noscript(const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0;
}

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
    rl_redis_pool_t *pool = rl_redis_pools
                                ? apr_hash_get(rl_redis_pools, &r->server, sizeof(r->server))
                                : NULL;
    const char *full_key = apr_pstrcat(r->pool, RL_REDIS_KEY_PREFIX, key, NULL);
    char emission[24], capacity[24];
    const char *argv[6] = { "EVALSHA", NULL, "1", NULL, NULL, NULL };
    redisContext *c;
    redisReply *reply;
    int rc;

    apr_snprintf(emission, sizeof(emission), "%" APR_INT64_T_FMT, g->emission_us);
    apr_snprintf(capacity, sizeof(capacity), "%" APR_INT64_T_FMT, g->capacity_us);
    if (!pool || !(c = pool_acquire(pool)))
        return -1;
    /* Arguments passed as they are: no format string to parse on every decision. */
    argv[1] = rl_script_sha;
    argv[3] = full_key;
    argv[4] = emission;
    argv[5] = capacity;
    reply = redisCommandArgv(c, 6, argv, NULL);
    if (is_noscript(reply)) {
        /* First use of the script since Redis started: EVAL caches it for later EVALSHAs. */
        freeReplyObject(reply);
        argv[0] = "EVAL";
        argv[1] = rl_script;
        reply = redisCommandArgv(c, 6, argv, NULL);
    }
    rc = read_decision(reply, out);
    if (reply)
        freeReplyObject(reply);
    pool_release(pool, c);
    return rc;
}
