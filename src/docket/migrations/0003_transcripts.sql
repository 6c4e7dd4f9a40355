-- The live transcript as the worker wrote it: one row per utterance, with its speaker (known
-- from the track, not guessed), role, time on the hearing clock and confidence; or a gap
-- where speech was not transcribed. Edits and signatures build on these rows.

CREATE TABLE transcript_segments (
    id             TEXT PRIMARY KEY,
    hearing_id     TEXT NOT NULL REFERENCES hearings(id),
    participant_id TEXT NOT NULL,
    role           TEXT NOT NULL,
    start_ms       BIGINT NOT NULL,
    end_ms         BIGINT NOT NULL,
    text           TEXT NOT NULL,
    -- Mean token probability in per mille.
    confidence     BIGINT NOT NULL,
    -- Why the speech was not transcribed; NULL for transcribed speech.
    gap            TEXT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX transcript_segments_hearing ON transcript_segments (hearing_id, start_ms);
