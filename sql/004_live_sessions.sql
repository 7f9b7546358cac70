-- 004_live_sessions: live capture sessions, their events and the sidecars that run them.
--
-- mod_profile creates and ends sessions (POST /connect, /disconnect) and wakes the sidecars
-- with NOTIFY live_sessions. Sidecars claim sessions with a lease (FOR UPDATE SKIP LOCKED),
-- renew it by heartbeat, and a session whose lease ran out is claimed by another sidecar.
-- Events are written in batches by the owning sidecar before any client sees them, so a
-- client resuming with ?since=<offset> never finds a gap.

-- Every running sidecar, so /connect can tell whether anyone will pick a session up.
CREATE TABLE live_sidecars (
    id           text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 128),
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    lease_s      integer NOT NULL CHECK (lease_s BETWEEN 1 AND 3600), -- alive until heartbeat + lease
    version      text CHECK (char_length(version) <= 64),
    stopping     boolean NOT NULL DEFAULT false      -- set while it drains on SIGTERM
);

COMMENT ON TABLE live_sidecars IS 'Live-capture sidecars and their last heartbeat.';

CREATE TABLE live_sessions (
    id            text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    username      text NOT NULL CHECK (username ~ '^[a-z0-9_.]{2,24}$'),
    source        text NOT NULL CHECK (source IN ('replay', 'tiktok')),
    -- Source options from /connect (replay: speed, loop, recording); bounded by the API.
    options       jsonb NOT NULL DEFAULT '{}' CHECK (octet_length(options::text) <= 1024),
    -- connecting: waiting for a sidecar or for the source; live: events flow;
    -- stopping: /disconnect asked the owner to stop; ended / failed: final.
    status        text NOT NULL DEFAULT 'connecting'
                  CHECK (status IN ('connecting', 'live', 'stopping', 'ended', 'failed')),
    error_reason  text CHECK (error_reason ~ '^[a-z_]{1,64}$'),
    error_detail  text CHECK (octet_length(error_detail) <= 1024),
    created_by    text NOT NULL CHECK (char_length(created_by) BETWEEN 1 AND 256),
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,                      -- first time a source went live
    ended_at      timestamptz,
    last_event_at timestamptz,
    owner         text CHECK (char_length(owner) BETWEEN 1 AND 128),  -- the sidecar id
    lease_until   timestamptz,
    claims        integer NOT NULL DEFAULT 0 CHECK (claims >= 0),
    -- Highest offset written to live_events; the next event gets last_offset + 1.
    last_offset   bigint NOT NULL DEFAULT 0 CHECK (last_offset >= 0),
    -- Where the source stands (replay: lines played), saved with each batch, so a new owner
    -- carries on where the last batch ended.
    source_position bigint NOT NULL DEFAULT 0 CHECK (source_position >= 0),
    viewers       integer NOT NULL DEFAULT 0 CHECK (viewers >= 0),
    event_count   bigint NOT NULL DEFAULT 0 CHECK (event_count >= 0),
    comment_count bigint NOT NULL DEFAULT 0 CHECK (comment_count >= 0),
    CONSTRAINT live_sessions_final_has_end
        CHECK ((status IN ('ended', 'failed')) = (ended_at IS NOT NULL)),
    CONSTRAINT live_sessions_failed_has_reason
        CHECK (status <> 'failed' OR error_reason IS NOT NULL),
    CONSTRAINT live_sessions_lease_with_owner CHECK ((owner IS NULL) = (lease_until IS NULL))
);
-- One active capture per username and source: /connect returns the existing one. A session
-- that is stopping no longer counts, so a new one can start beside it.
CREATE UNIQUE INDEX live_sessions_active ON live_sessions (username, source)
    WHERE status IN ('connecting', 'live');
-- Claims look at unowned or expired active sessions.
CREATE INDEX live_sessions_claimable ON live_sessions (created_at)
    WHERE status IN ('connecting', 'live', 'stopping');
-- POST /sessions/cleanup removes final sessions by age.
CREATE INDEX live_sessions_ended_at ON live_sessions (ended_at) WHERE ended_at IS NOT NULL;

COMMENT ON TABLE live_sessions IS 'Live capture sessions (POST /connect) and their owning sidecar.';

-- Every event of a session in offset order: what ?since= replays and the history endpoint
-- pages through. body is the event exactly as streamed.
CREATE TABLE live_events (
    session_id  text NOT NULL REFERENCES live_sessions (id) ON DELETE CASCADE,
    "offset"    bigint NOT NULL CHECK ("offset" > 0),
    type        text NOT NULL
                CHECK (type IN ('comment', 'like', 'gift', 'join', 'follow', 'share',
                                'viewers', 'status')),
    upstream_id text CHECK (char_length(upstream_id) <= 64),
    created_at  timestamptz NOT NULL,
    body        text NOT NULL CHECK (octet_length(body) <= 8192),
    PRIMARY KEY (session_id, "offset")
);

COMMENT ON TABLE live_events IS 'Events of live sessions, numbered per session from 1.';
