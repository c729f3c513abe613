-- See migrations/sqlite/0004_outbox.sql.
CREATE TABLE escalations (
    source      TEXT   NOT NULL,
    dossier_id  TEXT   NOT NULL,
    level       TEXT   NOT NULL,
    cycle       BIGINT NOT NULL,
    decided_at  BIGINT NOT NULL,
    PRIMARY KEY (source, dossier_id, level, cycle)
);
CREATE INDEX escalations_by_level ON escalations (level);

CREATE TABLE outbox (
    message_key         TEXT   PRIMARY KEY,
    message_id          TEXT   NOT NULL,
    level               TEXT   NOT NULL,
    recipient           TEXT   NOT NULL,
    body                BYTEA  NOT NULL,
    working_hours_only  BIGINT NOT NULL,
    state               TEXT   NOT NULL,
    attempts            BIGINT NOT NULL DEFAULT 0,
    last_error          TEXT,
    created_at          BIGINT NOT NULL,
    next_attempt_at     BIGINT NOT NULL,
    sent_at             BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_created ON outbox (created_at);
