-- Sources whose dossiers are another source's (config `role = "handoff"`, `same_dossiers_as`):
-- a department's system that receives dossiers handed over from the centre's. Their rows enrich
-- the system of record's dossiers (handoffs, stages) and are left out of every count. Written by
-- each poll of the source, so the store says what its rows are even to a command that reads it
-- without polling.
CREATE TABLE source_links (
    source           TEXT    PRIMARY KEY,
    same_dossiers_as TEXT    NOT NULL,
    declared_at      INTEGER NOT NULL
) WITHOUT ROWID;
