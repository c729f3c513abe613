-- See migrations/sqlite/0002_sla.sql.
ALTER TABLE dossiers ADD COLUMN paused_at BIGINT;
ALTER TABLE dossiers ADD COLUMN resumed_at BIGINT;
ALTER TABLE dossiers ADD COLUMN outcome TEXT;
ALTER TABLE dossiers ADD COLUMN processing_working_secs BIGINT;

CREATE INDEX dossiers_by_resolved ON dossiers (resolved_at);
CREATE INDEX dossiers_by_received ON dossiers (received_at);
