-- A replay at T (issue 10) reads the status and due changes observed after T: for the live
-- cycle none, so the index keeps that read empty instead of a walk through all history.
CREATE INDEX status_changes_by_observed ON status_changes (observed_at);
CREATE INDEX due_changes_by_observed ON due_changes (observed_at);
