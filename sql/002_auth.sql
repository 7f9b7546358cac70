-- 002_auth: accounts and authentication — users, login sessions with rotating refresh tokens,
-- API keys, the revocation feed, the audit log and login lockout counters.
--
-- Conventions: every timestamp is timestamptz; secrets are never stored, only their SHA-256
-- (hex) or, for passwords, an argon2id PHC string. Rows of users are never deleted by the
-- module (DELETE /users/{id} deactivates), so the audit trail keeps its meaning.

-- Accounts. Usernames and emails are unique case-insensitively (the lower() indexes); the
-- original spelling is kept for display.
CREATE TABLE users (
    id                 bigserial PRIMARY KEY,
    username           text NOT NULL CHECK (username ~ '^[A-Za-z0-9_.-]{3,32}$'),
    -- An email always holds an '@' and a username never does, so a login name is unambiguous.
    email              text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email LIKE '_%@_%'),
    password_hash      text NOT NULL,
    role               text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user', 'readonly')),
    active             boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    -- Access tokens of this user issued before this instant are void (logout everywhere,
    -- password change, role change, deactivation).
    tokens_valid_after timestamptz NOT NULL DEFAULT '-infinity'
);
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

COMMENT ON TABLE users IS 'Accounts: argon2id password hashes (PHC strings), role, active flag.';
COMMENT ON COLUMN users.tokens_valid_after IS 'Access tokens issued before this are void.';

-- A login session is a family of refresh tokens: login creates the family and its first token,
-- each refresh spends the live token and adds its successor. Presenting a spent token again
-- means it leaked: the family is revoked.
CREATE TABLE auth_sessions (
    id           text PRIMARY KEY,               -- 32 hex, also the access tokens' sid claim
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,           -- the live token's expiry (moves on refresh)
    revoked_at   timestamptz,
    ip           text,
    user_agent   text
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id, created_at DESC);

COMMENT ON TABLE auth_sessions IS 'Login sessions: one refresh-token family per login.';

CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,                 -- SHA-256 hex of the opaque token
    family_id  text NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz                       -- set when rotated: the token is spent
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

COMMENT ON TABLE refresh_tokens IS 'Refresh tokens (hashes only); used_at marks a rotated one.';

-- API keys pk_<id>_<secret>_<check>: id is public, only SHA-256(whole key) is stored. After a
-- rotation the previous hash stays valid until previous_valid_until.
CREATE TABLE api_keys (
    id                   text PRIMARY KEY,
    user_id              bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    secret_hash          text NOT NULL,
    previous_secret_hash text,
    previous_valid_until timestamptz,
    -- Scope bits as in auth/principal.h: 1 profiles:read, 2 profiles:write, 4 sessions:read,
    -- 8 sessions:write, 16 comments:read, 32 cache:admin, 64 admin.
    scopes               integer NOT NULL CHECK (scopes >= 0),
    expires_at           timestamptz,            -- NULL: never
    -- Per-key rate-limit override: both or neither.
    rate_limit_requests  integer CHECK (rate_limit_requests > 0),
    rate_limit_window_s  integer CHECK (rate_limit_window_s > 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    last_used_at         timestamptz,            -- written at most once a minute per process
    revoked_at           timestamptz,
    CHECK ((rate_limit_requests IS NULL) = (rate_limit_window_s IS NULL))
);
CREATE INDEX api_keys_user ON api_keys (user_id);

COMMENT ON TABLE api_keys IS 'API keys (hashes only): scopes, expiry, rate-limit override.';

-- The revocation feed. Every revoked access token (jti, kept until the token's expiry), revoked
-- or rotated key and voided user is appended; each httpd process polls `seq > last seen`.
CREATE TABLE revocations (
    seq     bigserial PRIMARY KEY,
    kind    text NOT NULL CHECK (kind IN ('jti', 'key', 'user')),
    subject text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    until   timestamptz                          -- jti: the token's exp; else NULL
);
CREATE INDEX revocations_until ON revocations (until) WHERE until IS NOT NULL;

COMMENT ON TABLE revocations IS 'Feed of revoked jtis, keys and voided users, read by seq.';

-- A reader that has seen seq N never looks below N again, so seq must follow commit order:
-- with a plain sequence a writer could take 10, another 11 and commit first, and a reader in
-- between would skip 10 for good. Writers therefore take seq under a lock held until commit.
-- Feed writes are rare (logout, key revocation, deactivation), so serialising them is cheap.
-- (The value the column default drew is dropped: seq has gaps, which readers do not mind.)
CREATE FUNCTION revocations_ordered_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('revocations.seq'));
    NEW.seq := nextval(pg_get_serial_sequence('revocations', 'seq'));
    RETURN NEW;
END
$$;
CREATE TRIGGER revocations_ordered_seq BEFORE INSERT ON revocations
    FOR EACH ROW EXECUTE FUNCTION revocations_ordered_seq();

-- Security events, newest read first. Not tied to users by a foreign key: the trail outlives
-- whatever happens to the rows it mentions.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    event      text NOT NULL CHECK (event ~ '^[a-z_]{1,64}$'),
    user_id    bigint,                           -- the user concerned, if any
    principal  text,                             -- who acted ("user:alice", "key:…"), if anyone
    ip         text,
    user_agent text,
    request_id text,
    details    jsonb
);
CREATE INDEX audit_log_event ON audit_log (event, id);
CREATE INDEX audit_log_user ON audit_log (user_id, id);
CREATE INDEX audit_log_at ON audit_log (at);

COMMENT ON TABLE audit_log IS 'Audit trail of security events (GET /admin/audit).';

-- Failed-login counters per lower-cased login name, whether or not such a user exists.
CREATE TABLE login_lockouts (
    name         text PRIMARY KEY,
    failures     integer NOT NULL DEFAULT 0,     -- failures since window_start
    window_start timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz
);

COMMENT ON TABLE login_lockouts IS 'Login failure counters and locks, per lower-cased name.';
