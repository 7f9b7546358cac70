/* Opening a Redis connection the way every part of the module needs it: connect and command
 * timeouts, AUTH when the target has a password, SELECT when it names a database. Pure
 * (hiredis, APR). Error messages never contain the password: server replies do not echo our
 * arguments and connection errors come from the socket layer. */
#ifndef PROFILE_REDIS_CONNECT_H
#define PROFILE_REDIS_CONNECT_H

#include <hiredis.h>
#include <apr_pools.h>
#include "config/parse.h"

/* A ready connection, or NULL; then *why (when p is not NULL) says what failed, e.g.
 * "connect: Connection refused" or "AUTH: no answer within 500 ms". */
redisContext *profile_redis_connect(const profile_redis_target_t *t, int connect_timeout_ms,
                                    int command_timeout_ms, apr_pool_t *p, const char **why);

/* Checks and frees the reply of one command on c: NULL when ok(reply) holds, else (with p)
 * "<what>: <reason>" — or "error" when p is NULL. */
const char *profile_redis_expect(apr_pool_t *p, redisContext *c, const char *what,
                                 redisReply *reply, int (*ok)(const redisReply *),
                                 int command_timeout_ms);

/* A status reply such as +OK. */
int profile_redis_reply_is_status(const redisReply *reply);

#endif
