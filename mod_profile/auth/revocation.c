/* The per-process authentication state of each database; see revocation.h.
 *
 * - A fresh process starts at the feed's head and loads the revoked jtis that are still live.
 *   Users voided before that are not in the feed window it reads, so an access token issued
 *   before the process started (iat < check_before) is checked once per user against
 *   users.tokens_valid_after; later voids arrive through the feed.
 * - JWT iat has whole seconds while voids have microseconds: a token issued in the very second
 *   of a void is judged by its refresh family, which must still be active and have issued
 *   (created or refreshed) after the void.
 * - Every table is bounded. Voided users that do not fit move check_before forward instead, so
 *   the affected tokens are checked in the database rather than accepted. */
#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_rwlock.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authn.h"
#include "auth/revocation.h"
#include "auth/token_cache.h"
#include "util/malloc_hash.h"
#include "config/config.h"
#include "store/revocations.h"
#include "store/sessions.h"
#include "store/users.h"

#define SYNC_INTERVAL    apr_time_from_sec(1)
#define PRUNE_INTERVAL   apr_time_from_sec(60)
#define FEED_PAGE        500
#define FEED_PAGES       4          /* per poll; a longer backlog continues a second later */
#define JTIS_MAX         100000
#define USERS_MAX        65536

typedef struct {
    apr_time_t until;
    char jti[1];               /* allocated to its length */
} jti_entry_t;

typedef struct {
    apr_int64_t user_id;
    apr_time_t voided_at;      /* 0: known not voided */
} user_entry_t;

struct profile_auth_db_t {
    profile_db_pool_t *pool;
    profile_key_cache_t *keys;
    apr_thread_rwlock_t *lock; /* jtis, users, check_before */
    apr_hash_t *jtis;          /* jti → jti_entry_t */
    apr_hash_t *users;         /* user id → user_entry_t */
    apr_time_t check_before;   /* tokens issued earlier need a look at their user */
    volatile apr_uint32_t synced;
    apr_thread_mutex_t *poll_lock; /* the fields below */
    apr_int64_t last_seq;
    apr_time_t next_poll, next_prune;
    int failing;
};

/* Process-wide: one state per database pool, made on first use. */
static apr_pool_t *registry_pool;
static apr_thread_mutex_t *registry_lock;
static apr_hash_t *registry;
static apr_time_t void_window; /* longest access token lifetime plus leeway */

void profile_auth_child_init(apr_pool_t *pchild, server_rec *s)
{
    int longest = 900 + 30;
    if (apr_pool_create(&registry_pool, pchild) != APR_SUCCESS
        || apr_thread_mutex_create(&registry_lock, APR_THREAD_MUTEX_DEFAULT, pchild)
               != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(10642)
                     "cannot set up the authentication state of this process");
        registry_lock = NULL;
        return;
    }
    registry = apr_hash_make(registry_pool);
    profile_token_cache_init(pchild);
    for (; s; s = s->next) {
        const profile_jwt_config_t *j = profile_server_config(s)->auth.jwt;
        if (j && j->access_lifetime_s + j->leeway_s > longest)
            longest = j->access_lifetime_s + j->leeway_s;
    }
    void_window = apr_time_from_sec(longest);
}

static apr_status_t free_entries(void *data)
{
    profile_auth_db_t *db = data;
    profile_hash_free_all(db->jtis);
    profile_hash_free_all(db->users);
    return APR_SUCCESS;
}

static profile_auth_db_t *db_create(profile_db_pool_t *pool)
{
    apr_pool_t *p, *keys_pool;
    profile_auth_db_t *db;
    if (apr_pool_create(&p, registry_pool) != APR_SUCCESS)
        return NULL;
    db = apr_pcalloc(p, sizeof(*db));
    db->pool = pool;
    /* The key cache allocates under its own lock: it gets a pool of its own. */
    if (apr_pool_create(&keys_pool, p) == APR_SUCCESS)
        db->keys = profile_key_cache_create(keys_pool);
    if (!db->keys || apr_thread_rwlock_create(&db->lock, p) != APR_SUCCESS
        || apr_thread_mutex_create(&db->poll_lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return NULL;
    }
    db->jtis = apr_hash_make(p);
    db->users = apr_hash_make(p);
    apr_pool_cleanup_register(p, db, free_entries, apr_pool_cleanup_null);
    return db;
}

profile_auth_db_t *profile_auth_db(profile_db_pool_t *pool)
{
    profile_auth_db_t *db;
    if (!pool || !registry_lock)
        return NULL;
    apr_thread_mutex_lock(registry_lock);
    db = apr_hash_get(registry, &pool, sizeof(pool));
    if (!db && (db = db_create(pool)))
        apr_hash_set(registry, &db->pool, sizeof(db->pool), db);
    apr_thread_mutex_unlock(registry_lock);
    return db;
}

profile_key_cache_t *profile_auth_db_keys(profile_auth_db_t *db)
{
    return db->keys;
}

/* ---- short-lived connections ---- */

PGconn *profile_auth_conn_open(profile_auth_conn_t *c, request_rec *r, profile_db_pool_t *pool,
                               int *retry_after_s)
{
    apr_pool_t *p;
    *retry_after_s = 1;
    c->conn = NULL;
    if (!pool || apr_pool_create(&p, r->pool) != APR_SUCCESS)
        return NULL;
    c->rr = *r;
    c->rr.pool = p;
    c->pool = pool;
    c->conn = profile_db_acquire(pool, &c->rr, retry_after_s);
    if (!c->conn)
        apr_pool_destroy(p);
    return c->conn;
}

void profile_auth_conn_failed(profile_auth_conn_t *c)
{
    profile_db_mark_broken(c->pool, &c->rr, c->conn);
}

void profile_auth_conn_close(profile_auth_conn_t *c)
{
    apr_pool_destroy(c->rr.pool); /* gives the connection back */
    c->conn = NULL;
}

/* ---- the tables (call with the lock held for writing unless noted) ---- */

static void prune(profile_auth_db_t *db, apr_time_t now, int force)
{
    apr_hash_index_t *hi;
    for (hi = apr_hash_first(NULL, db->jtis); hi; hi = apr_hash_next(hi)) {
        jti_entry_t *e = apr_hash_this_val(hi);
        if (e->until <= now) {
            apr_hash_set(db->jtis, e->jti, APR_HASH_KEY_STRING, NULL);
            free(e);
        }
    }
    /* An old entry voids no live token; it still saves a lookup while tokens issued before
     * check_before can be alive, so it is kept that long unless room is needed. */
    if (!force && db->check_before >= now - void_window)
        return;
    for (hi = apr_hash_first(NULL, db->users); hi; hi = apr_hash_next(hi)) {
        user_entry_t *e = apr_hash_this_val(hi);
        if (e->voided_at < now - void_window) {
            apr_hash_set(db->users, &e->user_id, sizeof(e->user_id), NULL);
            free(e);
        }
    }
}

static void jti_add(profile_auth_db_t *db, const char *jti, apr_time_t until, apr_time_t now)
{
    jti_entry_t *e, *soonest = NULL;
    apr_hash_index_t *hi;
    apr_size_t len = strlen(jti);

    if (until <= now || apr_hash_get(db->jtis, jti, (apr_ssize_t)len))
        return;
    if (apr_hash_count(db->jtis) >= JTIS_MAX)
        prune(db, now, 0);
    if (apr_hash_count(db->jtis) >= JTIS_MAX) {
        /* Forget the revocation that matters least: the token expiring first. */
        for (hi = apr_hash_first(NULL, db->jtis); hi; hi = apr_hash_next(hi)) {
            jti_entry_t *x = apr_hash_this_val(hi);
            if (!soonest || x->until < soonest->until)
                soonest = x;
        }
        if (soonest->until >= until)
            return;
        apr_hash_set(db->jtis, soonest->jti, APR_HASH_KEY_STRING, NULL);
        free(soonest);
    }
    if (!(e = malloc(sizeof(*e) + len)))
        return;
    e->until = until;
    memcpy(e->jti, jti, len + 1);
    apr_hash_set(db->jtis, e->jti, (apr_ssize_t)len, e);
}

/* Records that user's tokens issued before at are void (at 0: looked up, not voided). */
static void user_record(profile_auth_db_t *db, apr_int64_t user_id, apr_time_t at, int from_feed,
                        apr_time_t now)
{
    user_entry_t *e = apr_hash_get(db->users, &user_id, sizeof(user_id));
    if (e) {
        if (at > e->voided_at)
            e->voided_at = at;
        return;
    }
    if (apr_hash_count(db->users) >= USERS_MAX)
        prune(db, now, 1);
    if (apr_hash_count(db->users) >= USERS_MAX || !(e = malloc(sizeof(*e)))) {
        if (from_feed && at + APR_USEC_PER_SEC > db->check_before)
            db->check_before = at + APR_USEC_PER_SEC;
        return;
    }
    e->user_id = user_id;
    e->voided_at = at;
    apr_hash_set(db->users, &e->user_id, sizeof(e->user_id), e);
}

static void apply(profile_auth_db_t *db, const profile_revocation_t *rv, apr_time_t now)
{
    apr_int64_t user_id;
    switch (rv->kind) {
    case PROFILE_REVOKED_KEY:
        profile_key_cache_drop_key(db->keys, rv->subject);
        break;
    case PROFILE_REVOKED_JTI:
        apr_thread_rwlock_wrlock(db->lock);
        jti_add(db, rv->subject, rv->until, now);
        apr_thread_rwlock_unlock(db->lock);
        break;
    case PROFILE_REVOKED_USER:
        user_id = apr_atoi64(rv->subject);
        if (user_id <= 0)
            break;
        apr_thread_rwlock_wrlock(db->lock);
        user_record(db, user_id, rv->at, 1, now);
        apr_thread_rwlock_unlock(db->lock);
        profile_key_cache_drop_user(db->keys, user_id); /* role or active may have changed */
        break;
    }
}

/* ---- reading the feed (call with poll_lock held) ---- */

static profile_store_rc_t first_read(profile_auth_db_t *db, PGconn *c, apr_pool_t *p,
                                     apr_time_t now)
{
    apr_array_header_t *live;
    apr_int64_t head;
    profile_store_rc_t rc;
    int i;

    if ((rc = profile_revocations_head(c, &head)) != PROFILE_STORE_OK
        || (rc = profile_revocations_live_jtis(c, p, now, &live)) != PROFILE_STORE_OK)
        return rc;
    apr_thread_rwlock_wrlock(db->lock);
    for (i = 0; i < live->nelts; i++) {
        const profile_revocation_t *rv = &APR_ARRAY_IDX(live, i, profile_revocation_t);
        jti_add(db, rv->subject, rv->until, now);
    }
    db->check_before = now;
    apr_thread_rwlock_unlock(db->lock);
    db->last_seq = head;
    apr_atomic_set32(&db->synced, 1);
    return PROFILE_STORE_OK;
}

static profile_store_rc_t catch_up(profile_auth_db_t *db, request_rec *r, PGconn *c,
                                   apr_pool_t *p, apr_time_t now)
{
    apr_array_header_t *page;
    profile_store_rc_t rc;
    int n, i;

    for (n = 0; n < FEED_PAGES; n++) {
        if ((rc = profile_revocations_since(c, p, db->last_seq, FEED_PAGE, &page))
            != PROFILE_STORE_OK)
            return rc;
        for (i = 0; i < page->nelts; i++) {
            const profile_revocation_t *rv = &APR_ARRAY_IDX(page, i, profile_revocation_t);
            apply(db, rv, now);
            db->last_seq = rv->seq;
        }
        if (page->nelts < FEED_PAGE)
            return PROFILE_STORE_OK;
    }
    /* Still behind: cached keys may be revoked further on, so none is trusted meanwhile. */
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(10643)
                  "revocation feed backlog over %d entries: API key cache cleared",
                  FEED_PAGE * FEED_PAGES);
    profile_key_cache_clear(db->keys);
    return PROFILE_STORE_OK;
}

static void poll_feed(profile_auth_db_t *db, request_rec *r, apr_time_t now)
{
    profile_auth_conn_t ac;
    profile_store_rc_t rc = PROFILE_STORE_ERROR;
    int retry;

    if (profile_auth_conn_open(&ac, r, db->pool, &retry)) {
        rc = apr_atomic_read32(&db->synced) ? catch_up(db, r, ac.conn, ac.rr.pool, now)
                                            : first_read(db, ac.conn, ac.rr.pool, now);
        if (rc != PROFILE_STORE_OK) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, APLOGNO(10644)
                          "reading the revocation feed: %s", PQerrorMessage(ac.conn));
            profile_auth_conn_failed(&ac);
        }
        profile_auth_conn_close(&ac);
    }
    if (rc != PROFILE_STORE_OK && !db->failing) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, APLOGNO(10645)
                      "cannot read the revocation feed; revocations known so far still apply "
                      "(logged once per outage)");
        db->failing = 1;
    }
    else if (rc == PROFILE_STORE_OK && db->failing) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, APLOGNO(10646)
                      "reading the revocation feed again");
        db->failing = 0;
    }
    if (rc == PROFILE_STORE_OK && now >= db->next_prune) {
        db->next_prune = now + PRUNE_INTERVAL;
        apr_thread_rwlock_wrlock(db->lock);
        prune(db, now, 0);
        apr_thread_rwlock_unlock(db->lock);
    }
}

int profile_revocation_sync(profile_auth_db_t *db, request_rec *r)
{
    apr_time_t now;
    /* Until the first read succeeds requests wait for it rather than skip it. */
    if (apr_atomic_read32(&db->synced)) {
        if (apr_thread_mutex_trylock(db->poll_lock) != APR_SUCCESS)
            return 1;
    }
    else {
        apr_thread_mutex_lock(db->poll_lock);
    }
    now = apr_time_now();
    if (now >= db->next_poll) {
        db->next_poll = now + SYNC_INTERVAL;
        poll_feed(db, r, now);
    }
    apr_thread_mutex_unlock(db->poll_lock);
    return apr_atomic_read32(&db->synced) != 0;
}

int profile_revocation_jti_revoked(profile_auth_db_t *db, const char *jti)
{
    jti_entry_t *e;
    int revoked;
    apr_thread_rwlock_rdlock(db->lock);
    e = apr_hash_get(db->jtis, jti, APR_HASH_KEY_STRING);
    revoked = e && e->until > apr_time_now();
    apr_thread_rwlock_unlock(db->lock);
    return revoked;
}

/* ---- voided users ---- */

/* users.tokens_valid_after of a user the feed has not told this process about. */
static int load_user(profile_auth_db_t *db, request_rec *r, apr_int64_t user_id, apr_time_t *at,
                     int *retry_after_s)
{
    profile_auth_conn_t ac;
    profile_user_t u;
    profile_store_rc_t rc;

    if (!profile_auth_conn_open(&ac, r, db->pool, retry_after_s))
        return -1;
    rc = profile_users_get(ac.conn, ac.rr.pool, user_id, &u);
    if (rc == PROFILE_STORE_ERROR) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10647)
                      "looking up user %" APR_INT64_T_FMT ": %s", user_id,
                      PQerrorMessage(ac.conn));
        profile_auth_conn_failed(&ac);
    }
    profile_auth_conn_close(&ac);
    if (rc == PROFILE_STORE_ERROR)
        return -1;
    if (rc == PROFILE_STORE_NOT_FOUND)
        return 1;
    *at = u.tokens_valid_after;
    apr_thread_rwlock_wrlock(db->lock);
    user_record(db, user_id, *at, 0, apr_time_now());
    apr_thread_rwlock_unlock(db->lock);
    return 0;
}

/* A token from the second of the void: valid only when its refresh family is active and
 * issued its latest token after the void. */
static int same_second(profile_auth_db_t *db, request_rec *r, apr_int64_t user_id,
                       const char *sid, apr_time_t at, int *retry_after_s)
{
    profile_auth_conn_t ac;
    apr_array_header_t *sessions = NULL;
    profile_store_rc_t rc;
    int i, verdict = 1;

    if (!sid)
        return 1;
    if (!profile_auth_conn_open(&ac, r, db->pool, retry_after_s))
        return -1;
    rc = profile_sessions_list(ac.conn, ac.rr.pool, user_id, &sessions);
    if (rc == PROFILE_STORE_ERROR) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(10648)
                      "listing the sessions of user %" APR_INT64_T_FMT ": %s", user_id,
                      PQerrorMessage(ac.conn));
        profile_auth_conn_failed(&ac);
        verdict = -1;
    }
    for (i = 0; rc == PROFILE_STORE_OK && i < sessions->nelts; i++) {
        const profile_session_t *s = &APR_ARRAY_IDX(sessions, i, profile_session_t);
        if (!strcmp(s->id, sid)) {
            verdict = (s->created_at > at || s->last_used_at > at) ? 0 : 1;
            break;
        }
    }
    profile_auth_conn_close(&ac);
    return verdict;
}

int profile_revocation_token_void(profile_auth_db_t *db, request_rec *r, apr_int64_t user_id,
                                  const profile_jwt_claims_t *claims, int *retry_after_s)
{
    user_entry_t *e;
    apr_time_t at = 0;
    int known, v;

    apr_thread_rwlock_rdlock(db->lock);
    e = apr_hash_get(db->users, &user_id, sizeof(user_id));
    known = e != NULL;
    if (e)
        at = e->voided_at;
    if (!known && claims->iat >= db->check_before)
        known = 1;
    apr_thread_rwlock_unlock(db->lock);

    if (!known && (v = load_user(db, r, user_id, &at, retry_after_s)) != 0)
        return v;
    if (!at || apr_time_sec(claims->iat) > apr_time_sec(at))
        return 0;
    if (apr_time_sec(claims->iat) < apr_time_sec(at))
        return 1;
    return same_second(db, r, user_id, claims->sid, at, retry_after_s);
}
