/* The Redis connection pools. Each child process keeps, per distinct ProfileRedis target, a
 * LIFO of idle hiredis connections under a mutex: a thread takes one for a command and gives
 * it back, so no connection is ever used by two threads at once. At most ProfileRedisPool
 * connections are kept idle; a thread that finds none opens its own (connect timeout
 * ProfileRedisTimeout), and one that finds the stack full closes its connection. A connection
 * that failed (I/O error, timeout) is closed, never pooled: the next command reconnects, which
 * is how Redis coming back is picked up. Nothing is logged here: callers log once per outage. */
#include <string.h>
#include <openssl/sha.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include "config/config.h"
#include "util/redis_connect.h"
#include "util/redis_pool.h"

enum { SHA_NONE, SHA_STORING, SHA_READY };

typedef struct {
    apr_thread_mutex_t *lock;
    redisContext **idle;       /* LIFO: the most recently used connection is reused first */
    int n_idle;
    int max_idle;
    const profile_redis_target_t *target;
    int timeout_ms;            /* connect and command */
} redis_pool_t;

/* server_rec * → pool; written in child_init only, read-only afterwards. */
static apr_hash_t *redis_pools;

static apr_status_t pool_cleanup(void *data)
{
    redis_pool_t *pool = data;

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

void profile_redis_pool_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_t *by_target = apr_hash_make(pchild);

    redis_pools = apr_hash_make(pchild);
    for (; s; s = s->next) {
        profile_server_config_t *c = profile_server_config(s);
        redis_pool_t *pool;
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
                continue;      /* no pool: every command fails, callers fall back */
            pool->max_idle = profile_rl_redis_pool_max(&c->rl);
            pool->idle = apr_pcalloc(pchild, sizeof(redisContext *) * (apr_size_t)pool->max_idle);
            pool->target = c->redis;
            pool->timeout_ms = profile_rl_redis_timeout_ms(&c->rl);
            apr_pool_cleanup_register(pchild, pool, pool_cleanup, apr_pool_cleanup_null);
            apr_hash_set(by_target, key, APR_HASH_KEY_STRING, pool);
        }
        server = apr_palloc(pchild, sizeof(*server));
        *server = s;
        apr_hash_set(redis_pools, server, sizeof(*server), pool);
    }
}

static redis_pool_t *pool_of(server_rec *s)
{
    return redis_pools ? apr_hash_get(redis_pools, &s, sizeof(s)) : NULL;
}

redisContext *profile_redis_pool_acquire(server_rec *s)
{
    redis_pool_t *pool = pool_of(s);
    redisContext *c = NULL;

    if (!pool)
        return NULL;
    apr_thread_mutex_lock(pool->lock);
    if (pool->n_idle > 0)
        c = pool->idle[--pool->n_idle];
    apr_thread_mutex_unlock(pool->lock);
    return c ? c : profile_redis_connect(pool->target, pool->timeout_ms, pool->timeout_ms,
                                         NULL, NULL);
}

void profile_redis_pool_release(server_rec *s, redisContext *c)
{
    redis_pool_t *pool = pool_of(s);

    if (!pool) {
        redisFree(c);
        return;
    }
    if (c->err) {
        /* The idle connections saw the same outage (a restarted Redis closed them all):
         * dropping them now lets the next command reconnect instead of failing on each. */
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

/* The script's SHA1 in hex: the cached one, else computed into buf. The first thread to
 * compute it stores it for everyone (a compare-and-swap elects it, so the stored bytes are
 * written once and read only after the release store that publishes them). */
static const char *script_sha(profile_redis_script_t *script, char buf[41])
{
    apr_uint32_t state = __atomic_load_n(&script->sha_state, __ATOMIC_ACQUIRE);
    unsigned char md[SHA_DIGEST_LENGTH];
    int i;

    if (state == SHA_READY)
        return script->sha;
    SHA1((const unsigned char *)script->text, strlen(script->text), md);
    for (i = 0; i < SHA_DIGEST_LENGTH; i++)
        apr_snprintf(buf + 2 * i, 3, "%02x", md[i]);
    if (state == SHA_NONE
        && __atomic_compare_exchange_n(&script->sha_state, &state, SHA_STORING, 0,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        memcpy(script->sha, buf, 41);
        __atomic_store_n(&script->sha_state, SHA_READY, __ATOMIC_RELEASE);
    }
    return buf;
}

static int is_noscript(const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0;
}

redisReply *profile_redis_eval(redisContext *c, profile_redis_script_t *script, int nkeys,
                               int argc, const char *const *argv, const size_t *argvlen)
{
    const char *args[PROFILE_REDIS_EVAL_MAX_ARGS + 3];
    size_t lens[PROFILE_REDIS_EVAL_MAX_ARGS + 3];
    char sha[41], keys[12];
    redisReply *reply;
    int i;

    if (argc < 0 || argc > PROFILE_REDIS_EVAL_MAX_ARGS || nkeys < 0 || nkeys > argc)
        return NULL;
    apr_snprintf(keys, sizeof(keys), "%d", nkeys);
    args[0] = "EVALSHA";
    args[1] = script_sha(script, sha);
    args[2] = keys;
    for (i = 0; i < argc; i++) {
        args[i + 3] = argv[i];
        lens[i + 3] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    for (i = 0; i < 3; i++)
        lens[i] = strlen(args[i]);
    /* Arguments passed as they are: no format string to parse on every command. */
    reply = redisCommandArgv(c, argc + 3, args, lens);
    if (is_noscript(reply)) {
        /* First use of the script since Redis started: EVAL caches it for later EVALSHAs. */
        freeReplyObject(reply);
        args[0] = "EVAL";
        args[1] = script->text;
        lens[0] = 4;
        lens[1] = strlen(script->text);
        reply = redisCommandArgv(c, argc + 3, args, lens);
    }
    return reply;
}
