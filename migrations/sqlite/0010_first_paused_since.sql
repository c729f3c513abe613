-- Pause credit for a dossier first seen already paused (issue 10): when its source maps no
-- paused_at, the pause began at the source's last change as of that first observation (its
-- updated_at then). Written on insert only, so the credit holds after the pause ends. Rows stored
-- before: still paused and never seen to change, their updated_at is that instant; seen paused
-- first and since resumed, their first observation is the best known.
ALTER TABLE dossiers ADD COLUMN first_paused_since INTEGER;
UPDATE dossiers SET first_paused_since = updated_at
WHERE status IN ('supplement_requested','awaiting_payment','stopped')
    AND NOT EXISTS (SELECT 1 FROM status_changes c
        WHERE c.source = dossiers.source AND c.dossier_id = dossiers.dossier_id);
UPDATE dossiers SET first_paused_since = first_seen_at
WHERE first_paused_since IS NULL
    AND (SELECT c.old_status FROM status_changes c
        WHERE c.source = dossiers.source AND c.dossier_id = dossiers.dossier_id
        ORDER BY c.id LIMIT 1) IN ('supplement_requested','awaiting_payment','stopped');

-- The open-dossier index covers the new column too (see 0005).
DROP INDEX dossiers_open;
CREATE INDEX dossiers_open ON dossiers (status, received_at, source, dossier_id, procedure_code,
    procedure_name, department, channel, due_at, resolved_at, updated_at, paused_at, resumed_at,
    first_paused_since, outcome, vanished_at)
    WHERE vanished_at IS NULL
    AND status IN ('received','in_progress','supplement_requested','awaiting_payment','stopped');
