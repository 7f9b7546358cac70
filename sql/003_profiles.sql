-- 003_profiles: TikTok profiles — the persistent cache layer, the live tier and revalidation
-- jobs.
--
-- Usernames here are always the canonical form the API computes (lower case, no '@'), so the
-- primary keys need no lower() indexes. Times are timestamptz; the module reads and writes
-- them as epoch microseconds.

-- One cached answer per username, the same unit as the shared-memory and Redis layers: the
-- rendered JSON body and its ETag. A 404 (TikTok does not know the user) is cached too, with
-- an empty body and no tier.
CREATE TABLE profiles (
    username    text PRIMARY KEY CHECK (username ~ '^[a-z0-9_.]{2,24}$'),
    status      smallint NOT NULL CHECK (status IN (200, 404)),
    tier        smallint CHECK (tier >= 0),          -- the avatar's source (profile_tier_t)
    body        text NOT NULL CHECK (octet_length(body) <= 16384),
    -- FNV-1a 64 of the body: the unsigned value's bit pattern as a signed bigint.
    etag        bigint NOT NULL,
    fetched_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,               -- fresh until then
    stale_until timestamptz NOT NULL,               -- then served stale until this
    CONSTRAINT profiles_tier_iff_found CHECK ((status = 200) = (tier IS NOT NULL)),
    CONSTRAINT profiles_times_ordered CHECK (fetched_at <= expires_at AND expires_at <= stale_until)
);
-- POST /cache/clear-expired and the stats count expired rows.
CREATE INDEX profiles_expires_at ON profiles (expires_at);

COMMENT ON TABLE profiles IS 'Cached GET /profile answers (JSON body, ETag), one per username.';

-- The live tier: what live events showed of a user, written by the capture side. Read when
-- a profile is built; a row is only ever replaced by a later sighting.
CREATE TABLE live_profiles (
    username   text PRIMARY KEY CHECK (username ~ '^[a-z0-9_.]{2,24}$'),
    user_id    text CHECK (char_length(user_id) BETWEEN 1 AND 64),
    nickname   text CHECK (octet_length(nickname) < 256),
    avatar_url text NOT NULL CHECK (avatar_url ~ '^https?://' AND octet_length(avatar_url) <= 2048),
    seen_at    timestamptz NOT NULL
);

COMMENT ON TABLE live_profiles IS 'Nickname and avatar of users seen in live events (tier 1).';

-- POST /profiles/revalidate: a job holds one item per username. Workers of any process or
-- node claim items (FOR UPDATE SKIP LOCKED) with a lease, so a job survives restarts.
-- finished_at is set by the statement that ends the job's last pending or running item.
CREATE TABLE revalidation_jobs (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_by  text NOT NULL CHECK (char_length(created_by) BETWEEN 1 AND 256),
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

COMMENT ON TABLE revalidation_jobs IS 'Profile revalidation jobs (POST /profiles/revalidate).';

CREATE TABLE revalidation_items (
    id          bigserial PRIMARY KEY,              -- claim order
    job_id      uuid NOT NULL REFERENCES revalidation_jobs (id) ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position >= 0), -- in the request's list
    username    text NOT NULL CHECK (username ~ '^[a-z0-9_.]{2,24}$'),
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'done', 'failed')),
    -- done: ok, not_found or fallback; failed: the reason.
    outcome     text CHECK (octet_length(outcome) <= 512),
    tier        smallint CHECK (tier >= 0),
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0), -- claims so far
    claimed_by  text CHECK (char_length(claimed_by) <= 256),
    claimed_at  timestamptz,                         -- the lease runs from here
    finished_at timestamptz,
    UNIQUE (job_id, username),
    UNIQUE (job_id, position),
    CONSTRAINT revalidation_items_finished_iff_ended
        CHECK ((status IN ('done', 'failed')) = (finished_at IS NOT NULL)),
    CONSTRAINT revalidation_items_claimed CHECK (status = 'pending' OR claimed_at IS NOT NULL)
);
-- No username is revalidated by two workers at once, whichever jobs hold it. Claims also skip
-- such usernames, so this index is the guarantee, not the scheduler.
CREATE UNIQUE INDEX revalidation_items_running ON revalidation_items (username)
    WHERE status = 'running';
-- Claims take the lowest id among pending items and running ones whose lease ran out.
CREATE INDEX revalidation_items_claimable ON revalidation_items (id)
    WHERE status IN ('pending', 'running');

COMMENT ON TABLE revalidation_items IS 'One username of a revalidation job and its outcome.';
