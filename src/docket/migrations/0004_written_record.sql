-- The written record: the clerk's corrections to the live transcript, the versions they
-- finalise, and each signer's decision on a finalised version. Every table here is only ever
-- appended to (the server never updates or deletes a correction, a document or a decision;
-- a document's completion time is the one value set later, once), and each change has its
-- entry in the hash-chained audit log.

-- One correction of one line: the transcript's revision it makes (1, 2, ... per hearing).
-- The line's words at a revision are those of its latest correction at or below it, or the
-- words the model heard; nothing is overwritten.
CREATE TABLE transcript_edits (
    id          TEXT PRIMARY KEY,
    hearing_id  TEXT NOT NULL REFERENCES hearings(id),
    revision    BIGINT NOT NULL,
    segment_id  TEXT NOT NULL REFERENCES transcript_segments(id),
    text        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    -- Who corrected it (an audit actor, e.g. participant:<id>).
    editor      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (hearing_id, revision)
);
CREATE INDEX transcript_edits_segment ON transcript_edits (segment_id, revision);

-- A finalised version: the canonical JSON document, verbatim, and its SHA-256. A newer one
-- (a higher number) supersedes older ones that are not complete.
CREATE TABLE transcript_documents (
    id            TEXT PRIMARY KEY,
    hearing_id    TEXT NOT NULL REFERENCES hearings(id),
    -- 1, 2, ... per hearing, in the order finalised.
    number        BIGINT NOT NULL,
    revision      BIGINT NOT NULL,
    document      TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    finalised_by  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    -- When the last required signer decided, and the server's seal over every decision
    -- (so none can be removed from the signed file unnoticed).
    completed_at  BIGINT,
    completion_kid TEXT,
    completion_signature TEXT,
    UNIQUE (hearing_id, number)
);

-- A signer's decision, signed by the server's key for the participant it authenticated.
CREATE TABLE transcript_signatures (
    id              TEXT PRIMARY KEY,
    document_id     TEXT NOT NULL REFERENCES transcript_documents(id),
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

-- Who took part in a hearing is read from its join entries when the record is finalised.
CREATE INDEX audit_log_subject ON audit_log (subject, action);
