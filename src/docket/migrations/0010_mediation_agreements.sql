-- Mediation agreements (Art. 16): each version the mediator drafts, as the canonical JSON
-- document the sides sign, and each side's decision on it. Like the written record, only ever
-- appended to (the completion time and seal are the one value set later, once); each change
-- has its entry in the hash-chained audit log.

-- One drafted version. A newer one (a higher version) supersedes an older one that is not
-- complete; a complete one stays what it was.
CREATE TABLE agreement_documents (
    id            TEXT PRIMARY KEY,
    hearing_id    TEXT NOT NULL REFERENCES hearings(id),
    -- 1, 2, ... per hearing, in the order drafted.
    version       BIGINT NOT NULL,
    document      TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    drafted_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    -- When the last side decided, and the server's seal over every decision.
    completed_at  BIGINT,
    completion_kid TEXT,
    completion_signature TEXT,
    UNIQUE (hearing_id, version)
);

-- A side's decision, signed by the server's key for the participant it authenticated.
CREATE TABLE agreement_signatures (
    id              TEXT PRIMARY KEY,
    document_id     TEXT NOT NULL REFERENCES agreement_documents(id),
    participant_id  TEXT NOT NULL,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    decision        TEXT NOT NULL,
    reason          TEXT,
    signed_at       BIGINT NOT NULL,
    kid             TEXT NOT NULL,
    signature       TEXT NOT NULL,
    UNIQUE (document_id, participant_id)
);
