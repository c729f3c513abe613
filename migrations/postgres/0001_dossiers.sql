-- Canonical dossiers per source (DESIGN §3). Instants are Unix seconds (UTC), as in the SQLite
-- store, so both backends share one set of queries.
CREATE TABLE dossiers (
    source          TEXT    NOT NULL,
    dossier_id      TEXT    NOT NULL,
    procedure_code  TEXT    NOT NULL,
    procedure_name  TEXT,
    department      TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    received_at     BIGINT  NOT NULL,
    due_at          BIGINT,
    resolved_at     BIGINT,
    status          TEXT    NOT NULL,
    raw_status      TEXT    NOT NULL,
    updated_at      BIGINT  NOT NULL,
    first_seen_at   BIGINT  NOT NULL,
    last_seen_at    BIGINT  NOT NULL,
    vanished_at     BIGINT,
    -- The id of the last full resync that returned the row (any unique number).
    seen_in_resync  BIGINT,
    due_changes     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, dossier_id)
);

CREATE INDEX dossiers_by_status ON dossiers (source, status);

CREATE TABLE due_changes (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT    NOT NULL,
    dossier_id  TEXT    NOT NULL,
    old_due_at  BIGINT  NOT NULL,
    new_due_at  BIGINT  NOT NULL,
    changed_at  BIGINT  NOT NULL,
    observed_at BIGINT  NOT NULL
);
CREATE INDEX due_changes_by_dossier ON due_changes (source, dossier_id);

CREATE TABLE status_changes (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT    NOT NULL,
    dossier_id  TEXT    NOT NULL,
    old_status  TEXT    NOT NULL,
    new_status  TEXT    NOT NULL,
    changed_at  BIGINT  NOT NULL,
    observed_at BIGINT  NOT NULL
);
CREATE INDEX status_changes_by_dossier ON status_changes (source, dossier_id);

-- History is written by triggers in the same statement as the upsert (see the SQLite migration).
CREATE FUNCTION record_dossier_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.due_at IS NOT NULL AND NEW.due_at IS NOT NULL AND OLD.due_at <> NEW.due_at THEN
        INSERT INTO due_changes (source, dossier_id, old_due_at, new_due_at, changed_at, observed_at)
        VALUES (OLD.source, OLD.dossier_id, OLD.due_at, NEW.due_at, NEW.updated_at, NEW.last_seen_at);
        NEW.due_changes := OLD.due_changes + 1;
    END IF;
    IF OLD.status <> NEW.status THEN
        INSERT INTO status_changes (source, dossier_id, old_status, new_status, changed_at, observed_at)
        VALUES (OLD.source, OLD.dossier_id, OLD.status, NEW.status, NEW.updated_at, NEW.last_seen_at);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER dossiers_changes BEFORE UPDATE ON dossiers
FOR EACH ROW EXECUTE FUNCTION record_dossier_changes();

CREATE TABLE watermarks (
    source       TEXT   PRIMARY KEY,
    value        TEXT   NOT NULL,
    committed_at BIGINT NOT NULL
);

CREATE TABLE rejected_rows (
    source        TEXT   NOT NULL,
    row_key       TEXT   NOT NULL,
    reason        TEXT   NOT NULL,
    detail        TEXT   NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    PRIMARY KEY (source, row_key, reason)
);
