-- 001_foundation: the first migration.
--
-- `profilectl migrate` runs every file of this directory in version order, each in its own
-- transaction, and records it in schema_migrations (which profilectl creates itself).
-- Files must not contain BEGIN/COMMIT. An applied file must never change: its checksum is
-- recorded and a changed file stops `profilectl migrate`. Fix mistakes with a new file.

-- Facts about the installation itself, for operators and for later migrations.
CREATE TABLE service_meta (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE service_meta IS 'Facts about this mod_profile installation (key/value).';

INSERT INTO service_meta (key, value)
VALUES ('created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
