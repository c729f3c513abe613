-- Several instances on one store (issue 14). Instants are Unix seconds.

-- A sender claims an outbox row before it sends it: `claimed_by` is its instance id and the
-- claim lapses at `claim_expires_at`, so that a row whose sender died is sent again (same
-- Message-ID) by another. Recording the attempt clears the claim. `reclaimed_from` is the
-- sender whose claim lapsed, when this claim took the row over; `reclaims` counts those
-- takeovers, each a message that may have been in flight and so may arrive twice.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claim_expires_at INTEGER;
ALTER TABLE outbox ADD COLUMN reclaimed_from TEXT;
ALTER TABLE outbox ADD COLUMN reclaims INTEGER NOT NULL DEFAULT 0;

-- The leader's lease lives only in a PostgreSQL store (migrations/postgres/0007_ha.sql): a
-- SQLite store serves one instance, held by its file lock, which is always the leader.
