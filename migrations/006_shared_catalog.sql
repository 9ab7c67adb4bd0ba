-- The catalog is read from this table by every process (src/catalog/catalog.ts), not copied into each
-- one's memory, so what a process used to work out in memory is kept here:
-- last_modified_s: the Last-Modified (unix seconds) a copy is served with when it is not its mtime's second
-- (a copy replacing another within the same second is dated one second later: no wrong 304). NULL: the
-- mtime's second.
ALTER TABLE files ADD COLUMN last_modified_s INTEGER;
-- The number of rows in `files`, kept by every write (a COUNT(*) of a million rows takes a tenth of a second).
INSERT INTO meta (key, value) SELECT 'catalog_files', COUNT(*) FROM files WHERE true
  ON CONFLICT(key) DO UPDATE SET value = excluded.value;
-- The prober's health-probe files (the oldest small file, the largest) are looked up in the table every
-- few minutes: without these, two passes over a million rows, on the serving thread.
CREATE INDEX files_by_mtime ON files (mtime_ms);
CREATE INDEX files_by_size ON files (size);
