// Prepared statements, one per SQL text and connection, held for the life of the process.
import type Database from 'better-sqlite3';

/**
 * Every statement, by connection, held for the life of the process. better-sqlite3 12 on Node 24 aborts
 * the process (`RemoveEnvironmentCleanupHook: Assertion (env) != nullptr`, WiseLibs/better-sqlite3#1515,
 * closed without a fix; 13 fixes it but crashes on Node 20) when the GC finalizes a statement in some
 * collections (an unfinished `.iterate()` iterator does the same: use `.all()`, in pages if large). So no
 * statement is ever left to the GC: a server has one connection and a fixed set of
 * statements; only test runs, which open many databases, hold a little more than they need.
 */
const statements = new Map<Database.Database, Map<string, Database.Statement>>();

/**
 * `db.prepare(sql)`, compiled once per connection and kept (see above). A statement used with `.raw()` or
 * `.pluck()` keeps that mode: give it its own SQL.
 */
export function statement(db: Database.Database, sql: string): Database.Statement {
  let map = statements.get(db);
  if (map === undefined) {
    map = new Map();
    statements.set(db, map);
  }
  let stmt = map.get(sql);
  if (stmt === undefined) {
    stmt = db.prepare(sql);
    map.set(sql, stmt);
  }
  return stmt;
}


/** Statements of connections that were replaced: kept, never left to the GC (see above). */
const retired: Map<string, Database.Statement>[] = [];

/** Drops `db`'s statements from the registry (its connection was swapped for a new one), keeping them alive. */
export function retireStatements(db: Database.Database): void {
  const map = statements.get(db);
  if (map === undefined) return;
  retired.push(map);
  statements.delete(db);
}
