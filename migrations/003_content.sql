-- A repository copy is identified by (size, mtime_ms, ctime_ms): a file rebuilt under the same name with
-- the same size and mtime (reproducible builds set mtime from SOURCE_DATE_EPOCH) still gets a new ctime,
-- which no tool can set. The hash cache and per-mirror evidence are only good for the copy they name.
ALTER TABLE files ADD COLUMN ctime_ms INTEGER NOT NULL DEFAULT 0;
UPDATE files SET sha256 = NULL;
ALTER TABLE mirror_files ADD COLUMN ctime_ms INTEGER NOT NULL DEFAULT 0;
-- How the copy was judged: 'sha256' (whole copy hashed), 'samples' (byte ranges compared), 'head'
-- (status and metadata only: missing or wrong size needs nothing more).
ALTER TABLE mirror_files ADD COLUMN method TEXT NOT NULL DEFAULT 'head';

-- Every change to `files`, in order, so other processes (workers, a server after `mirrorgate scan`) apply
-- just the changed paths instead of reloading a million rows. An empty path means "reload everything".
-- Pruned to the newest rows; a reader that fell behind the oldest row reloads.
CREATE TABLE catalog_changes (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT,
  path  TEXT NOT NULL
);
