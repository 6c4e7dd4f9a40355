-- The case API's tables. Portable between SQLite and PostgreSQL: TEXT ids (UUIDs), BIGINT
-- Unix-millisecond times, hashes as lowercase hex TEXT, no backend-specific types.

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE dockets (
    id          TEXT PRIMARY KEY,
    case_number TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    court       TEXT NOT NULL,
    case_type   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE hearings (
    id              TEXT PRIMARY KEY,
    docket_id       TEXT NOT NULL REFERENCES dockets(id),
    kind            TEXT NOT NULL,
    title           TEXT,
    scheduled_start BIGINT NOT NULL,
    state           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX hearings_docket ON hearings (docket_id);

CREATE TABLE participants (
    id           TEXT PRIMARY KEY,
    hearing_id   TEXT NOT NULL REFERENCES hearings(id),
    display_name TEXT NOT NULL,
    role         TEXT NOT NULL,
    identity_ref TEXT NOT NULL,
    contact      TEXT,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX participants_hearing ON participants (hearing_id);

CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    events      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    disabled_at BIGINT
);

CREATE TABLE webhook_outbox (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks(id),
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (delivered_at, failed_at, next_attempt_at);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
