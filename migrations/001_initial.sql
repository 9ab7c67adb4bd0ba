-- The catalog: one row per file of the repository. sha256 is filled in by the background hasher and is
-- kept only while size and mtime stay the same (the scanner clears it when either changes).
CREATE TABLE files (
  path      TEXT PRIMARY KEY,
  size      INTEGER NOT NULL,
  mtime_ms  INTEGER NOT NULL,
  sha256    TEXT
) WITHOUT ROWID;

-- Redirects and bytes per target and minute (minute = unix epoch minutes). A target is a mirror name,
-- or '_local' / '_fallback' for what mirrorgate served itself or sent to fallbackUrl.
CREATE TABLE counter_minutes (
  minute    INTEGER NOT NULL,
  target    TEXT NOT NULL,
  requests  INTEGER NOT NULL,
  bytes     INTEGER NOT NULL,
  PRIMARY KEY (minute, target)
) WITHOUT ROWID;

-- The same per hour (hour = unix epoch hours), kept much longer.
CREATE TABLE counter_hours (
  hour      INTEGER NOT NULL,
  target    TEXT NOT NULL,
  requests  INTEGER NOT NULL,
  bytes     INTEGER NOT NULL,
  PRIMARY KEY (hour, target)
) WITHOUT ROWID;

-- Small facts shared between the server and the CLI, e.g. catalog_version, bumped by every catalog change
-- so a running server notices `mirrorgate scan` done by another process.
CREATE TABLE meta (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) WITHOUT ROWID;
