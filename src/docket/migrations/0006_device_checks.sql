-- What the last check of a device found: unchecked, ok, unauthorized, unreachable or no-media;
-- when; and what it sends (JSON: video encoding, profile, B-frames and path; audio encoding
-- and path).
ALTER TABLE devices ADD COLUMN status TEXT NOT NULL DEFAULT 'unchecked';
ALTER TABLE devices ADD COLUMN checked_at BIGINT;
ALTER TABLE devices ADD COLUMN stream TEXT;
