-- Recording metadata, the composite job, and fault records (Art. 40). The files and the
-- hash-chained manifest on disk are the evidence; these rows index them for the API.

CREATE TABLE recording_segments (
    hearing_id     TEXT NOT NULL REFERENCES hearings(id),
    seq            BIGINT NOT NULL,
    file           TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    track          TEXT NOT NULL,
    start_ms       BIGINT NOT NULL,
    end_ms         BIGINT NOT NULL,
    sha256         TEXT NOT NULL,
    bytes          BIGINT NOT NULL,
    cut_short      BIGINT NOT NULL,
    entry_hash     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (hearing_id, file)
);

CREATE TABLE recordings (
    hearing_id TEXT PRIMARY KEY REFERENCES hearings(id),
    head       TEXT,
    entries    BIGINT NOT NULL,
    sealed_at  BIGINT,
    -- Composite job: none, queued, running, done or failed; progress in per mille.
    composite_state    TEXT NOT NULL,
    composite_progress BIGINT NOT NULL,
    composite_error    TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE faults (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    hearing_id TEXT,
    component  TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX faults_hearing ON faults (hearing_id);
