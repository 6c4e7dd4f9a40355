-- E-courtroom devices (RTSP cameras and codecs) the platform registers for a hearing (Art. 33:
-- mixed hearings). The password is a secret: the API never returns it and nothing logs it; it
-- is kept because the server must present it to the camera. A removed device keeps its row
-- (the audit log names it), marked removed.
CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    hearing_id  TEXT NOT NULL REFERENCES hearings(id),
    name        TEXT NOT NULL,
    url         TEXT NOT NULL,
    username    TEXT,
    password    TEXT,
    -- tcp (interleaved) or udp
    transport   TEXT NOT NULL,
    -- RTSPS: the SHA-256 of the certificate the camera must present (hex), if pinned
    tls_pin     TEXT,
    created_at  BIGINT NOT NULL,
    removed_at  BIGINT
);
CREATE INDEX devices_hearing ON devices (hearing_id);
