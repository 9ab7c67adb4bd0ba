// The database as the read-only commands (stats, mirrors, explain) open it: an existing file only. A
// forgotten --db must not create an empty database and print zeros; the command says which file it read.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { openDb, type Db } from '../db/open.js';
import { errors } from '../errors.js';
import type { Io } from './io.js';

export function openForReading(file: string, io: Io): Db {
  const path = resolve(file);
  if (!existsSync(path)) throw new errors.MG_ERR_DB_MISSING(path);
  io.stderr(`reading ${path}\n`);
  return openDb(path).db;
}
