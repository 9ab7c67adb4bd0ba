-- Health of each mirror as the prober last saw it: one row per mirror name, replaced on every change
-- of state and refreshed now and then, so a restart (and `mirrorgate mirrors`) knows it.
CREATE TABLE mirror_health (
  mirror        TEXT PRIMARY KEY,
  state         TEXT NOT NULL,          -- 'up' | 'down' | 'unknown'
  reason        TEXT NOT NULL,          -- e.g. 'HTTP 503', 'timeout after 3000 ms', 'ok'
  since         INTEGER NOT NULL,       -- ms epoch of the last transition
  checked_at    INTEGER NOT NULL,
  latency_ms    REAL,
  capacity_mbps REAL,                   -- effective capacity from the throughput probes
  sync_stamp    INTEGER                 -- ms epoch read from the mirror's timestampFile
) WITHOUT ROWID;

-- Every up/down transition, for the log of what happened and why.
CREATE TABLE mirror_events (
  at        INTEGER NOT NULL,
  mirror    TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state  TEXT NOT NULL,
  reason    TEXT NOT NULL
);
CREATE INDEX mirror_events_mirror_at ON mirror_events (mirror, at);

-- Per-file evidence: what a HEAD of the file on the mirror said, for the repository copy that had
-- size and mtime_ms at the time. Evidence for another (size, mtime) is no evidence.
CREATE TABLE mirror_files (
  mirror      TEXT NOT NULL,
  path        TEXT NOT NULL,
  status      TEXT NOT NULL,            -- 'fresh' | 'stale' | 'missing'
  size        INTEGER NOT NULL,
  mtime_ms    INTEGER NOT NULL,
  checked_at  INTEGER NOT NULL,
  detail      TEXT NOT NULL,
  PRIMARY KEY (mirror, path)
) WITHOUT ROWID;
