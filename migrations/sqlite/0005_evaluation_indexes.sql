-- Indexes shaped after the evaluation cycle's reads, so that a cycle at a million dossiers reads
-- indexes, not the table: every read filters on vanished_at IS NULL, hence the partial indexes,
-- and the period counts are answered from covering indexes (which list vanished_at too: SQLite
-- reads a partial index as covering only when it holds every column the query names).
DROP INDEX dossiers_by_status;
CREATE INDEX dossiers_by_status ON dossiers (source, status, vanished_at) WHERE vanished_at IS NULL;
-- Every column the cycle reads of an open dossier, for open dossiers only (a tenth of the table):
-- the condition must stay word for word the one the open-dossier query writes.
CREATE INDEX dossiers_open ON dossiers (status, received_at, source, dossier_id, procedure_code,
    procedure_name, department, channel, due_at, resolved_at, updated_at, paused_at, resumed_at,
    outcome, vanished_at)
    WHERE vanished_at IS NULL
    AND status IN ('received','in_progress','supplement_requested','awaiting_payment','stopped');

-- Resolved later than an instant (open dossiers replayed with --as-of).
DROP INDEX dossiers_by_resolved;
CREATE INDEX dossiers_by_resolved ON dossiers (resolved_at, vanished_at) WHERE vanished_at IS NULL;

-- Period counts: grouped columns first, so the count reads the index in group order (with
-- statistics, SQLite skips from group to group straight to the period) instead of sorting a
-- year of dossiers.
CREATE INDEX dossiers_resolved_counts
    ON dossiers (source, department, outcome, resolved_at, received_at, vanished_at)
    WHERE vanished_at IS NULL;

DROP INDEX dossiers_by_received;
CREATE INDEX dossiers_received_counts
    ON dossiers (source, department, channel, received_at, vanished_at)
    WHERE vanished_at IS NULL;

CREATE INDEX dossiers_unscored ON dossiers (source) WHERE outcome IS NULL AND resolved_at IS NOT NULL;
CREATE INDEX dossiers_due_changed ON dossiers (source, department, due_changes) WHERE due_changes > 0;
