/* Revalidation jobs and their items; see revalidation.h.
 *
 * Ending a job: whoever ends an item also sets the job's finished_at when no item of it is
 * pending or running any more. Two workers ending a job's last two items at once would each
 * still see the other's item running (write skew) and leave the job unfinished, so ending an
 * item locks the job row first and looks at the items in a later statement, which sees every
 * item ended by a transaction that held the lock before. All item endings, including "worker
 * lost", go through finish() for that reason. */
#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

#include "store/pg_util.h"
#include "store/revalidation.h"

/* Buffer size for a stored outcome (longer ones are cut; the column's CHECK matches). */
#define OUTCOME_MAX 513
/* Claim attempts per call: a lost race for a username or a lost item costs one. */
#define CLAIM_TRIES 8

#define UUID_TEXT_LEN 36

/* The canonical text form 8-4-4-4-12 of hex digits, the only one we hand out. */
static int is_uuid(const char *s)
{
    int i;

    for (i = 0; i < UUID_TEXT_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        }
        else if (!apr_isxdigit(s[i])) {
            return 0;
        }
    }
    return s[UUID_TEXT_LEN] == '\0';
}

/* usernames as a text[] literal; every element is quoted and escaped. */
static const char *text_array(apr_pool_t *p, const apr_array_header_t *items)
{
    apr_size_t size = 3, used = 0;
    const char *s;
    char *out;
    int i;

    for (i = 0; i < items->nelts; i++)
        size += 2 * strlen(APR_ARRAY_IDX(items, i, const char *)) + 3;
    out = apr_palloc(p, size);
    out[used++] = '{';
    for (i = 0; i < items->nelts; i++) {
        if (i > 0)
            out[used++] = ',';
        out[used++] = '"';
        for (s = APR_ARRAY_IDX(items, i, const char *); *s; s++) {
            if (*s == '"' || *s == '\\')
                out[used++] = '\\';
            out[used++] = *s;
        }
        out[used++] = '"';
    }
    out[used++] = '}';
    out[used] = '\0';
    return out;
}

/* A job without items is finished when it is made. */
profile_store_rc_t profile_store_reval_create(PGconn *c, apr_pool_t *p, const char *created_by,
                                              const apr_array_header_t *usernames,
                                              const char **job_id)
{
    const char *params[2] = { created_by, text_array(p, usernames) };
    PGresult *res = profile_pg_exec(c,
        "WITH j AS (INSERT INTO revalidation_jobs (created_by, finished_at)"
        "  VALUES ($1, CASE WHEN cardinality($2::text[]) = 0 THEN now() END) RETURNING id),"
        " i AS (INSERT INTO revalidation_items (job_id, position, username)"
        "  SELECT j.id, u.n - 1, u.name FROM j, unnest($2::text[]) WITH ORDINALITY AS u(name, n))"
        " SELECT id FROM j", 2, params);
    profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);

    if (rc == PROFILE_STORE_OK && PQntuples(res) != 1)
        rc = PROFILE_STORE_ERROR;
    *job_id = rc == PROFILE_STORE_OK ? profile_pg_str(p, res, 0, 0) : NULL;
    PQclear(res);
    return rc;
}

static void count(profile_reval_job_t *job, const char *status)
{
    if (!strcmp(status, "pending"))
        job->pending++;
    else if (!strcmp(status, "running"))
        job->running++;
    else if (!strcmp(status, "done"))
        job->done++;
    else
        job->failed++;
}

/* One statement, so the job and its items come from one snapshot. */
profile_store_rc_t profile_store_reval_get(PGconn *c, apr_pool_t *p, const char *job_id,
                                           profile_reval_job_t *out)
{
    const char *params[1] = { job_id };
    PGresult *res;
    profile_store_rc_t rc;
    int i, rows;

    if (!is_uuid(job_id))
        return PROFILE_STORE_NOT_FOUND;
    res = profile_pg_exec(c,
        "SELECT j.id, j.created_by, " PROFILE_PG_US("j.created_at") ", "
        PROFILE_PG_US("j.finished_at") ", i.username, i.status, i.outcome,"
        " coalesce(i.tier, -1), i.attempts, " PROFILE_PG_US("i.finished_at")
        " FROM revalidation_jobs j LEFT JOIN revalidation_items i ON i.job_id = j.id"
        " WHERE j.id = $1::uuid ORDER BY i.position", 1, params);
    rc = profile_pg_rc(res, PGRES_TUPLES_OK);
    rows = rc == PROFILE_STORE_OK ? PQntuples(res) : 0;
    if (rc == PROFILE_STORE_OK && rows == 0)
        rc = PROFILE_STORE_NOT_FOUND;
    if (rc != PROFILE_STORE_OK) {
        PQclear(res);
        return rc;
    }

    memset(out, 0, sizeof(*out));
    out->id = profile_pg_str(p, res, 0, 0);
    out->created_by = profile_pg_str(p, res, 0, 1);
    out->created_at = profile_pg_time(res, 0, 2);
    out->finished_at = profile_pg_time(res, 0, 3);
    out->items = apr_array_make(p, rows, sizeof(profile_reval_item_t));
    /* A job without items comes back as one row of NULL item columns. */
    for (i = 0; i < rows && !PQgetisnull(res, i, 4); i++) {
        profile_reval_item_t *item = apr_array_push(out->items);
        item->username = profile_pg_str(p, res, i, 4);
        item->status = profile_pg_str(p, res, i, 5);
        item->outcome = profile_pg_str(p, res, i, 6);
        item->tier = (int)profile_pg_int64(res, i, 7);
        item->attempts = (int)profile_pg_int64(res, i, 8);
        item->finished_at = profile_pg_time(res, i, 9);
        count(out, item->status);
    }
    out->total = out->items->nelts;
    PQclear(res);
    return PROFILE_STORE_OK;
}

/* Ends a running item and, when it was the job's last, the job; see the top of the file.
 * NOT_FOUND when the item is not running (unknown, or already ended). */
static profile_store_rc_t finish(PGconn *c, apr_int64_t item_id, const char *status,
                                 const char *outcome, int tier)
{
    char b_id[PROFILE_PG_NUM_LEN], b_tier[PROFILE_PG_NUM_LEN], text[OUTCOME_MAX];
    const char *params[4] = { profile_pg_int64_param(b_id, item_id), status,
                              profile_pg_clean_text(text, sizeof(text), outcome),
                              tier < 0 ? NULL : profile_pg_int64_param(b_tier, tier) };
    const char *job[1];
    PGresult *res;
    profile_store_rc_t rc = profile_pg_begin(c);

    if (rc != PROFILE_STORE_OK)
        return rc;
    res = profile_pg_exec(c,
        "WITH i AS (UPDATE revalidation_items SET status = $2, outcome = $3, tier = $4,"
        "  finished_at = now() WHERE id = $1 AND status = 'running' RETURNING job_id)"
        " SELECT j.id FROM revalidation_jobs j JOIN i ON j.id = i.job_id FOR UPDATE OF j",
        4, params);
    rc = profile_pg_rc(res, PGRES_TUPLES_OK);
    if (rc == PROFILE_STORE_OK && PQntuples(res) != 1)
        rc = PROFILE_STORE_NOT_FOUND;
    if (rc == PROFILE_STORE_OK) {
        job[0] = PQgetvalue(res, 0, 0);
        rc = profile_pg_done(profile_pg_exec(c,
            "UPDATE revalidation_jobs j SET finished_at = (SELECT max(finished_at)"
            "  FROM revalidation_items i WHERE i.job_id = j.id)"
            " WHERE id = $1 AND finished_at IS NULL AND NOT EXISTS (SELECT 1"
            "  FROM revalidation_items i WHERE i.job_id = j.id"
            "  AND i.status IN ('pending', 'running'))", 1, job), PGRES_COMMAND_OK);
    }
    PQclear(res);
    if (rc == PROFILE_STORE_OK)
        rc = profile_pg_commit(c);
    if (rc != PROFILE_STORE_OK)
        profile_pg_rollback(c);
    return rc;
}

/* See revalidation.h. A candidate is a pending item or a running one whose lease ran out,
 * whose username no other item is running (the unique index on running usernames would
 * refuse it). The lowest id not locked by another claim wins. One whose lease ran out
 * PROFILE_REVAL_MAX_ATTEMPTS times is not handed out: it is claimed without counting an
 * attempt or replacing the lost worker's name, ended as failed ("worker lost") by finish(),
 * and the next candidate is tried.
 * A claim that loses the race for a username to a concurrent one (unique violation) is
 * tried again: the next statement sees that username running and passes over it. */
profile_store_rc_t profile_store_reval_claim(PGconn *c, apr_pool_t *p, const char *worker,
                                             apr_interval_time_t lease, apr_int64_t *item_id,
                                             const char **username)
{
    char b_lease[PROFILE_PG_NUM_LEN], b_max[PROFILE_PG_NUM_LEN];
    const char *params[3] = { worker, profile_pg_int64_param(b_lease, lease),
                              profile_pg_int64_param(b_max, PROFILE_REVAL_MAX_ATTEMPTS) };
    int tries;

    for (tries = 0; tries < CLAIM_TRIES; tries++) {
        PGresult *res = profile_pg_exec(c,
            "UPDATE revalidation_items i SET status = 'running', claimed_at = now(),"
            " claimed_by = CASE WHEN c.lost THEN i.claimed_by ELSE $1 END,"
            " attempts = i.attempts + CASE WHEN c.lost THEN 0 ELSE 1 END"
            " FROM (SELECT id, status = 'running' AND attempts >= $3::int AS lost"
            "  FROM revalidation_items w"
            "  WHERE (status = 'pending' OR (status = 'running'"
            "   AND claimed_at < now() - $2::bigint * interval '1 microsecond'))"
            "  AND NOT EXISTS (SELECT 1 FROM revalidation_items r WHERE r.username = w.username"
            "   AND r.status = 'running' AND r.id <> w.id)"
            "  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) c"
            " WHERE i.id = c.id RETURNING i.id, i.username, c.lost", 3, params);
        profile_store_rc_t rc = profile_pg_rc(res, PGRES_TUPLES_OK);
        int lost = 0;

        if (rc == PROFILE_STORE_OK && PQntuples(res) == 0)
            rc = PROFILE_STORE_NOT_FOUND;
        if (rc == PROFILE_STORE_OK) {
            *item_id = profile_pg_int64(res, 0, 0);
            *username = profile_pg_str(p, res, 0, 1);
            lost = profile_pg_bool(res, 0, 2);
        }
        PQclear(res);
        if (rc == PROFILE_STORE_CONFLICT)
            continue;
        if (rc != PROFILE_STORE_OK || !lost)
            return rc;
        rc = finish(c, *item_id, "failed", "worker lost", -1);
        if (rc != PROFILE_STORE_OK && rc != PROFILE_STORE_NOT_FOUND)
            return rc;
    }
    return PROFILE_STORE_NOT_FOUND;
}

profile_store_rc_t profile_store_reval_finish(PGconn *c, apr_int64_t item_id,
                                              const char *status, const char *outcome, int tier)
{
    if (strcmp(status, "done") && strcmp(status, "failed"))
        return PROFILE_STORE_ERROR;
    return finish(c, item_id, status, outcome, tier);
}
