-- RTSPS devices may name the authority (a court's own CA, PEM) that signed their certificate,
-- instead of a pin. A CA certificate is public: it is stored and shown as given.
ALTER TABLE devices ADD COLUMN tls_ca TEXT;
