-- Statistics for the dashboard and `mirrorgate stats`. Downloads (GETs answered with a redirect or the
-- file) and bytes, per file and per client country. Rows are added to, never replaced, so workers and restarts sum exactly, like the
-- counters. file_hours answers "the last 24 hours" and is kept as long as counter_minutes; file_days and
-- country_days as long as counter_hours. country is ISO 3166-1 alpha-2, or '--' when unknown.
CREATE TABLE file_hours (
  hour       INTEGER NOT NULL,
  path       TEXT NOT NULL,
  downloads  INTEGER NOT NULL,
  bytes      INTEGER NOT NULL,
  PRIMARY KEY (hour, path)
) WITHOUT ROWID;

CREATE TABLE file_days (
  day        INTEGER NOT NULL,
  path       TEXT NOT NULL,
  downloads  INTEGER NOT NULL,
  bytes      INTEGER NOT NULL,
  PRIMARY KEY (day, path)
) WITHOUT ROWID;

CREATE TABLE country_days (
  day        INTEGER NOT NULL,
  country    TEXT NOT NULL,
  downloads  INTEGER NOT NULL,
  bytes      INTEGER NOT NULL,
  PRIMARY KEY (day, country)
) WITHOUT ROWID;

-- Requests and bytes per target and day (day = unix epoch days, UTC), kept as long as counter_hours: the
-- dashboard's 30-day charts read 30 rows a target instead of 720. Filled from the hourly rows once.
CREATE TABLE counter_days (
  day       INTEGER NOT NULL,
  target    TEXT NOT NULL,
  requests  INTEGER NOT NULL,
  bytes     INTEGER NOT NULL,
  PRIMARY KEY (day, target)
) WITHOUT ROWID;
INSERT INTO counter_days (day, target, requests, bytes)
  SELECT hour / 24, target, SUM(requests), SUM(bytes) FROM counter_hours GROUP BY hour / 24, target;
