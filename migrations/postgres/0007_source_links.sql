-- See migrations/sqlite/0007_source_links.sql.
CREATE TABLE source_links (
    source           TEXT   PRIMARY KEY,
    same_dossiers_as TEXT   NOT NULL,
    declared_at      BIGINT NOT NULL
);
