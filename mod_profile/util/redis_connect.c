/* See redis_connect.h. */
#include <errno.h>
#include <apr_strings.h>

#include "util/redis_connect.h"

/* Longest piece of a server's error reply quoted in an error. */
#define REPLY_QUOTE_MAX 200

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

static const char *failure(apr_pool_t *p, const char *what, const redisContext *c,
                           const redisReply *reply, int command_timeout_ms)
{
    if (!p)
        return "error";
    if (!reply && c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        return apr_psprintf(p, "%s: no answer within %d ms", what, command_timeout_ms);
    if (!reply)
        return apr_psprintf(p, "%s: %s", what, c->err ? c->errstr : "no reply");
    if (reply->type == REDIS_REPLY_ERROR)
        return apr_psprintf(p, "%s: %.*s", what, REPLY_QUOTE_MAX, reply->str);
    return apr_psprintf(p, "%s: unexpected reply", what);
}

const char *profile_redis_expect(apr_pool_t *p, redisContext *c, const char *what,
                                 redisReply *reply, int (*ok)(const redisReply *),
                                 int command_timeout_ms)
{
    const char *err = (reply && ok(reply)) ? NULL
                                           : failure(p, what, c, reply, command_timeout_ms);

    if (reply)
        freeReplyObject(reply);
    return err;
}

int profile_redis_reply_is_status(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_STATUS;
}

redisContext *profile_redis_connect(const profile_redis_target_t *t, int connect_timeout_ms,
                                    int command_timeout_ms, apr_pool_t *p, const char **why)
{
    struct timeval connect_tv = ms_to_tv(connect_timeout_ms);
    const char *err = NULL;
    redisContext *c = t->socket_path ? redisConnectUnixWithTimeout(t->socket_path, connect_tv)
                                     : redisConnectWithTimeout(t->host, t->port, connect_tv);

    if (!c)
        err = "connect: out of memory";
    else if (c->err || redisSetTimeout(c, ms_to_tv(command_timeout_ms)) != REDIS_OK)
        err = p ? apr_psprintf(p, "connect: %s", c->errstr) : "error";
    if (!err && t->password)
        err = profile_redis_expect(p, c, "AUTH", redisCommand(c, "AUTH %s", t->password),
                                   profile_redis_reply_is_status, command_timeout_ms);
    if (!err && t->db != 0)
        err = profile_redis_expect(p, c, "SELECT", redisCommand(c, "SELECT %d", t->db),
                                   profile_redis_reply_is_status, command_timeout_ms);
    if (!err)
        return c;
    if (c)
        redisFree(c);
    if (why)
        *why = err;
    return NULL;
}
