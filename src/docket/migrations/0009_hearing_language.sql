-- The language a hearing is held in (ISO 639-1, as Whisper names it), when it is not the
-- court's own (`[transcription] language`): its captions and transcript are made in it.
ALTER TABLE hearings ADD COLUMN language TEXT;
