-- Courtroom devices that publish by themselves over WHIP (hardware encoders, the courtroom's
-- own mixer) rather than being pulled over RTSP: `kind` says which. A WHIP device holds a key
-- of its own to publish with; only the key's SHA-256 is kept (the platform is shown the key
-- once, when it registers the device).
ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'rtsp';
ALTER TABLE devices ADD COLUMN key_hash TEXT;
CREATE UNIQUE INDEX devices_key ON devices (key_hash);
