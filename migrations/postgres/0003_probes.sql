-- Dossiers handed over between two sources (a [[handoff]]); see the SQLite migration.
CREATE TABLE handoffs (
    from_source     TEXT    NOT NULL,
    to_source       TEXT    NOT NULL,
    dossier_id      TEXT    NOT NULL,
    transferred_at  BIGINT  NOT NULL,
    tracked_at      BIGINT  NOT NULL,
    arrived_at      BIGINT,
    PRIMARY KEY (from_source, to_source, dossier_id)
);
