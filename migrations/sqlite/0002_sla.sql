-- What the SLA engine needs beyond the canonical row: the source's own pause span, and the
-- outcome of a resolved dossier, decided once (so its histograms are observed once, also across
-- restarts).
ALTER TABLE dossiers ADD COLUMN paused_at INTEGER;
ALTER TABLE dossiers ADD COLUMN resumed_at INTEGER;
ALTER TABLE dossiers ADD COLUMN outcome TEXT;
ALTER TABLE dossiers ADD COLUMN processing_working_secs INTEGER;

CREATE INDEX dossiers_by_resolved ON dossiers (resolved_at);
CREATE INDEX dossiers_by_received ON dossiers (received_at);
