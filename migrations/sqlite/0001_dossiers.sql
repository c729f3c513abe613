-- Canonical dossiers per source (DESIGN §3). Instants are Unix seconds (UTC).
CREATE TABLE dossiers (
    source          TEXT    NOT NULL,
    dossier_id      TEXT    NOT NULL,
    procedure_code  TEXT    NOT NULL,
    procedure_name  TEXT,
    department      TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    received_at     INTEGER NOT NULL,
    due_at          INTEGER,
    resolved_at     INTEGER,
    status          TEXT    NOT NULL,
    raw_status      TEXT    NOT NULL,
    updated_at      INTEGER NOT NULL,
    first_seen_at   INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    vanished_at     INTEGER,
    -- The id of the last full resync that returned the row (any unique number).
    seen_in_resync  INTEGER,
    due_changes     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, dossier_id)
) WITHOUT ROWID;

CREATE INDEX dossiers_by_status ON dossiers (source, status);

-- Every change of due_at observed (re-appointments, after-the-fact edits).
CREATE TABLE due_changes (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    dossier_id  TEXT    NOT NULL,
    old_due_at  INTEGER NOT NULL,
    new_due_at  INTEGER NOT NULL,
    changed_at  INTEGER NOT NULL,
    observed_at INTEGER NOT NULL
);
CREATE INDEX due_changes_by_dossier ON due_changes (source, dossier_id);

-- Every status change observed; paused spans are rebuilt from it when a source gives none.
CREATE TABLE status_changes (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    dossier_id  TEXT    NOT NULL,
    old_status  TEXT    NOT NULL,
    new_status  TEXT    NOT NULL,
    changed_at  INTEGER NOT NULL,
    observed_at INTEGER NOT NULL
);
CREATE INDEX status_changes_by_dossier ON status_changes (source, dossier_id);

-- The triggers record history in the same statement as the upsert, so a batch is one round trip
-- and history can never disagree with the dossier row.
CREATE TRIGGER dossiers_due_change AFTER UPDATE OF due_at ON dossiers
WHEN OLD.due_at IS NOT NULL AND NEW.due_at IS NOT NULL AND OLD.due_at <> NEW.due_at
BEGIN
    INSERT INTO due_changes (source, dossier_id, old_due_at, new_due_at, changed_at, observed_at)
    VALUES (OLD.source, OLD.dossier_id, OLD.due_at, NEW.due_at, NEW.updated_at, NEW.last_seen_at);
    UPDATE dossiers SET due_changes = due_changes + 1
    WHERE source = OLD.source AND dossier_id = OLD.dossier_id;
END;

CREATE TRIGGER dossiers_status_change AFTER UPDATE OF status ON dossiers
WHEN OLD.status <> NEW.status
BEGIN
    INSERT INTO status_changes (source, dossier_id, old_status, new_status, changed_at, observed_at)
    VALUES (OLD.source, OLD.dossier_id, OLD.status, NEW.status, NEW.updated_at, NEW.last_seen_at);
END;

-- The last change marker committed per source, as the source's own local timestamp text.
CREATE TABLE watermarks (
    source      TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL,
    committed_at INTEGER NOT NULL
);

-- Rows rejected by the mapping, one line per (row, reason), so each is logged once, not per poll.
CREATE TABLE rejected_rows (
    source        TEXT    NOT NULL,
    row_key       TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    detail        TEXT    NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (source, row_key, reason)
);
