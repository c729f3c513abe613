-- See migrations/sqlite/0006_stage_events.sql.
CREATE TABLE stage_events (
    source        TEXT   NOT NULL,
    dossier_id    TEXT   NOT NULL,
    stage         TEXT   NOT NULL,
    entered_at    BIGINT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    observed_at   BIGINT,
    PRIMARY KEY (source, dossier_id, entered_at, stage)
);

CREATE INDEX stage_events_pending ON stage_events (source, dossier_id) WHERE observed_at IS NULL;

CREATE TABLE stages (
    source        TEXT   NOT NULL,
    stage         TEXT   NOT NULL,
    first_seen_at BIGINT NOT NULL,
    PRIMARY KEY (source, stage)
);
