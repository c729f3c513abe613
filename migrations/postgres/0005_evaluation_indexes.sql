-- Indexes shaped after the evaluation cycle's reads, so that a cycle at a million dossiers reads
-- indexes, not the table: every read filters on vanished_at IS NULL, hence the partial indexes,
-- and the period counts are answered from covering indexes.
DROP INDEX dossiers_by_status;
CREATE INDEX dossiers_by_status ON dossiers (source, status) WHERE vanished_at IS NULL;
CREATE INDEX dossiers_open ON dossiers (status) WHERE vanished_at IS NULL;

DROP INDEX dossiers_by_resolved;
CREATE INDEX dossiers_resolved_counts ON dossiers (resolved_at, source, department, outcome, received_at)
    WHERE vanished_at IS NULL;

DROP INDEX dossiers_by_received;
CREATE INDEX dossiers_received_counts ON dossiers (received_at, source, department, channel)
    WHERE vanished_at IS NULL;

CREATE INDEX dossiers_unscored ON dossiers (source) WHERE outcome IS NULL AND resolved_at IS NOT NULL;
CREATE INDEX dossiers_due_changed ON dossiers (source, department, due_changes) WHERE due_changes > 0;
