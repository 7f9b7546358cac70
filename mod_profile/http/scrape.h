/* The scraper tier: GET <ProfileTikTokBaseURL>/@<username> with pooled libcurl handles, a
 * total timeout (ProfileScrapeTimeout), a page size cap (ProfileScrapeMaxPage), the
 * concurrency cap and circuit breaker of breaker.h, then page_parse.h. Every failure of the
 * upstream is an outcome here, never an error of the caller. */
#ifndef PROFILE_SCRAPE_H
#define PROFILE_SCRAPE_H

#include <jansson.h>
#include "profile.h"
#include "profiles/page_parse.h"

typedef enum {
    PROFILE_SCRAPE_OK,         /* result->user filled */
    PROFILE_SCRAPE_NOT_FOUND,  /* TikTok says there is no such user */
    PROFILE_SCRAPE_FAILED,     /* timeout, HTTP error, 429, captcha/WAF, oversized, malformed */
    PROFILE_SCRAPE_SKIPPED     /* not tried: circuit open or every fetch slot busy */
} profile_scrape_rc_t;

typedef struct {
    profile_scrape_rc_t rc;
    profile_tiktok_user_t user;
    const char *why;           /* FAILED/SKIPPED: e.g. "timeout after 5000 ms", "HTTP 429",
                                  "captcha or login wall", "page larger than 2097152 bytes",
                                  "circuit open" */
    int http_status;           /* 0 when no answer */
    apr_int64_t elapsed_ms;
} profile_scrape_result_t;

/* post_config: the breaker block in shared memory. */
apr_status_t profile_scrape_setup(server_rec *s);
/* child_init: the per-process pool of curl handles (closed with pchild). */
void profile_scrape_child_init(apr_pool_t *pchild, server_rec *s);

/* Fetches and parses username's page; counts the outcome in cache_stats.h. Thread-safe. */
void profile_scrape(server_rec *s, apr_pool_t *p, const char *username,
                    profile_scrape_result_t *out);

/* {"state","consecutive_failures","open_until","in_flight"} for /cache/stats. */
json_t *profile_scrape_breaker_json(apr_pool_t *p);

#endif
