/* The Redis backend: one round trip per decision (EVALSHA of a GCRA script that reads Redis's
 * own clock with TIME, so nodes with skewed clocks agree), over the per-process connection
 * pool of util/redis_pool.h (short connect and command timeouts). */
#ifndef PROFILE_RL_REDIS_H
#define PROFILE_RL_REDIS_H

#include "profile.h"
#include "ratelimit/gcra.h"

/* 0 with *out set; -1 when Redis failed (unreachable, timeout, error reply). The key is
 * stored as "profile:rl:" + key with an expiry of the bucket's reset time. */
int profile_rl_redis_decide(request_rec *r, const char *key, const profile_gcra_t *g,
                            profile_gcra_result_t *out);

#endif
