"""sql/003_profiles.sql: the constraints the profile store relies on hold in the database."""
import pytest

DB = 'profile_store'


@pytest.fixture(scope='module')
def db(env):
    env.pg.create_database(DB)
    env.migrate(env.pg.conninfo(DB))

    def sql(text):
        return env.pg.psql(text, dbname=DB)

    def refused(text, constraint):
        with pytest.raises(RuntimeError) as e:
            sql(text)
        assert constraint in str(e.value), str(e.value)
    return sql, refused


def new_job(sql, *usernames):
    job = sql("INSERT INTO revalidation_jobs (created_by) VALUES ('test') RETURNING id")
    for i, u in enumerate(usernames):
        sql("INSERT INTO revalidation_items (job_id, position, username) VALUES ('%s', %d, '%s')"
            % (job, i, u))
    return job


def test_profiles_take_only_canonical_bounded_rows(db):
    sql, refused = db
    row = ("INSERT INTO profiles VALUES ('%s', %d, %s, %s, -1, now(), now() + interval '5 min',"
           " now() + interval '1 day')")
    sql(row % ('al.ice_1', 200, '2', "'{}'"))
    sql(row % ('ghost', 404, 'NULL', "''"))
    refused(row % ('Alice', 200, '2', "'{}'"), 'profiles_username_check')
    refused(row % ('a', 200, '2', "'{}'"), 'profiles_username_check')
    refused(row % ('bob', 200, 'NULL', "'{}'"), 'profiles_tier_iff_found')
    refused(row % ('bob', 200, '1', "repeat('x', 16385)"), 'profiles_body_check')
    # The uint64 ETag's bit pattern fits exactly.
    assert sql("SELECT etag FROM profiles WHERE username = 'al.ice_1'") == '-1'


def test_no_username_runs_twice_at_once(db):
    sql, refused = db
    first, second = new_job(sql, 'carol', 'dan'), new_job(sql, 'carol')
    run = ("UPDATE revalidation_items SET status = 'running', claimed_at = now()"
           " WHERE job_id = '%s' AND username = 'carol'")
    sql(run % first)
    refused(run % second, 'revalidation_items_running')
    sql("UPDATE revalidation_items SET status = 'done', finished_at = now()"
        " WHERE job_id = '%s' AND username = 'carol'" % first)
    sql(run % second)
    refused("INSERT INTO revalidation_items (job_id, position, username) VALUES ('%s', 9, 'dan')"
            % first, 'revalidation_items_job_id_username_key')
    refused("UPDATE revalidation_items SET status = 'done', claimed_at = now()"
            " WHERE job_id = '%s' AND username = 'dan'" % first,
            'revalidation_items_finished_iff_ended')
    sql("DELETE FROM revalidation_jobs WHERE id = '%s'" % first)
    assert sql("SELECT count(*) FROM revalidation_items WHERE job_id = '%s'" % first) == '0'
