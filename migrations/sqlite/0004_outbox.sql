-- Escalation decisions and the emails they produce (DESIGN §6). A decision and its digests are
-- written in one transaction; the mailer drains `outbox`. Instants are Unix seconds (UTC).
-- (0003 belongs to the probes branch.)

-- One row per escalation decided: the unique key is (source, dossier, level, repeat cycle), so a
-- level is decided once per cycle whatever happens to the process.
CREATE TABLE escalations (
    source      TEXT    NOT NULL,
    dossier_id  TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    cycle       INTEGER NOT NULL,
    decided_at  INTEGER NOT NULL,
    PRIMARY KEY (source, dossier_id, level, cycle)
);
CREATE INDEX escalations_by_level ON escalations (level);

-- One row per email (one recipient). `message_key` names what the email is (a digest of a level
-- run, a report of a period); `message_id` is derived from it, so a resend after a crash carries
-- the same Message-ID. `body` is the whole formatted message, so a retry sends the same bytes.
CREATE TABLE outbox (
    message_key         TEXT    PRIMARY KEY,
    message_id          TEXT    NOT NULL,
    level               TEXT    NOT NULL,
    recipient           TEXT    NOT NULL,
    body                BLOB    NOT NULL,
    working_hours_only  INTEGER NOT NULL,
    -- pending | sent | dead
    state               TEXT    NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    -- A class (connect, tls, auth, rejected, timeout, other), never the server's text.
    last_error          TEXT,
    created_at          INTEGER NOT NULL,
    next_attempt_at     INTEGER NOT NULL,
    sent_at             INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_created ON outbox (created_at);
