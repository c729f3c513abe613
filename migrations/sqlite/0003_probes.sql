-- Dossiers handed over between two sources (a [[handoff]]): tracked from the moment the `from`
-- source shows them transferred. `arrived_at` is set once the `to` source shows them, so that
-- each handoff's lag is observed once, also across restarts. Instants are Unix seconds.
CREATE TABLE handoffs (
    from_source     TEXT    NOT NULL,
    to_source       TEXT    NOT NULL,
    dossier_id      TEXT    NOT NULL,
    transferred_at  INTEGER NOT NULL,
    tracked_at      INTEGER NOT NULL,
    arrived_at      INTEGER,
    PRIMARY KEY (from_source, to_source, dossier_id)
) WITHOUT ROWID;
