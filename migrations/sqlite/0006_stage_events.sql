-- Stage events from a source's optional stage query: a dossier entering a stage or unit. A
-- re-read event is the same row, so polls that overlap store nothing twice. `observed_at` is set
-- once the visit that starts here has ended and been counted, so that a restart never observes
-- it again. Instants are Unix seconds.
CREATE TABLE stage_events (
    source        TEXT    NOT NULL,
    dossier_id    TEXT    NOT NULL,
    stage         TEXT    NOT NULL,
    entered_at    INTEGER NOT NULL,
    first_seen_at INTEGER NOT NULL,
    observed_at   INTEGER,
    PRIMARY KEY (source, dossier_id, entered_at, stage)
) WITHOUT ROWID;

-- The dossiers whose visits the evaluation cycle still has to follow: open ones, and those
-- whose last visit has not been counted yet.
CREATE INDEX stage_events_pending ON stage_events (source, dossier_id) WHERE observed_at IS NULL;

-- Every stage name a source has shown, in order of first sight: the first ones become metric
-- labels, the rest are folded into `other`, the same way after every restart.
CREATE TABLE stages (
    source        TEXT    NOT NULL,
    stage         TEXT    NOT NULL,
    first_seen_at INTEGER NOT NULL,
    PRIMARY KEY (source, stage)
) WITHOUT ROWID;
