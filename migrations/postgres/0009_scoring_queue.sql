-- Only dossiers with a resolved status can be scored: a result date on an open status (a source
-- that fills it ahead of the status) stays out of the scoring queue, so such rows, however many,
-- never fill a batch and starve the dossiers actually resolved (issue 10).
DROP INDEX dossiers_unscored;
CREATE INDEX dossiers_unscored ON dossiers (source)
    WHERE outcome IS NULL AND resolved_at IS NOT NULL AND status IN ('resolved','returned');
