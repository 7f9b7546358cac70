/* The per-process pools of hiredis connections every Redis user of the module shares (rate
 * limits, profile cache, single flight), and running Lua scripts over them with one round
 * trip (EVALSHA, EVAL only the first time Redis sees a script). */
#ifndef PROFILE_REDIS_POOL_H
#define PROFILE_REDIS_POOL_H

#include <hiredis.h>
#include "profile.h"

/* Most arguments (keys and others) profile_redis_eval takes. */
#define PROFILE_REDIS_EVAL_MAX_ARGS 16

/* A Lua script and its SHA1, worked out on first use. Declare it static, non-const:
 * static profile_redis_script_t s = PROFILE_REDIS_SCRIPT("return 1"); */
typedef struct {
    const char *text;
    apr_uint32_t sha_state;    /* 0: not computed, 1: being stored, 2: sha is ready */
    char sha[41];              /* hex */
} profile_redis_script_t;

#define PROFILE_REDIS_SCRIPT(text) { (text), 0, "" }

/* child_init: a pool for every server with ProfileRedis (servers with the same target and
 * pool settings share one). */
void profile_redis_pool_child_init(apr_pool_t *pchild, server_rec *s);

/* A connection to s's Redis for this thread alone, or NULL (no ProfileRedis, or no connection
 * within ProfileRedisTimeout). Give it back with profile_redis_pool_release. */
redisContext *profile_redis_pool_acquire(server_rec *s);
/* Keeps c for reuse, or closes it when it failed (then the idle ones are closed too). */
void profile_redis_pool_release(server_rec *s, redisContext *c);

/* Runs script with argc arguments, the first nkeys of them keys (argvlen: their lengths, or
 * NULL for strings). The reply for freeReplyObject, or NULL when the connection failed. */
redisReply *profile_redis_eval(redisContext *c, profile_redis_script_t *script, int nkeys,
                               int argc, const char *const *argv, const size_t *argvlen);

#endif
