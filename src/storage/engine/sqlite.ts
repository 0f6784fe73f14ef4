// The SQLite engine (better-sqlite3): synchronous statements behind the engine-independent interface,
// and transactions on the one connection.
import type { Db } from '../sqlite/db.ts';
import { sqlitePlaceholders, textFor, type Driver, type Statement, type Text, type Transaction } from './sql.ts';

/** Numbered placeholders bind from an object: `{1: first, 2: second}`. */
const byNumber = (params: unknown[]) => [Object.fromEntries(params.map((value, index) => [index + 1, value]))];
const asGiven = (params: unknown[]) => params;

export function sqliteDriver(db: Db): Driver & { readonly db: Db } {
  // Prepared once: exec() parses its text every time, which cost a quarter of a message's handling.
  const [begin, commit, savepoint, release, rollbackTo] = ['BEGIN IMMEDIATE', 'COMMIT', 'SAVEPOINT unit', 'RELEASE unit', 'ROLLBACK TO unit'].map((sql) => db.prepare(sql));
  const tx: Transaction = {
    async unit(work) {
      savepoint!.run();
      try {
        const value = await work();
        release!.run();
        return value;
      } catch (error) {
        rollbackTo!.run();
        release!.run();
        throw error;
      }
    },
  };
  return {
    engine: 'sqlite',
    db,
    unitsPerTransaction: Number.POSITIVE_INFINITY,
    prepare<Row>(text: Text): Statement<Row> {
      const { text: sql, byNumber: numbered } = sqlitePlaceholders(textFor(text, 'sqlite'));
      const bind = numbered ? byNumber : asGiven;
      const statement = db.prepare(sql);
      // pluck() changes a statement for good: the first-column readers get their own.
      let plucked: typeof statement | undefined;
      const pluck = () => (plucked ??= db.prepare(sql).pluck());
      return {
        all: async (...params) => statement.all(...bind(params)) as Row[],
        get: async (...params) => statement.get(...bind(params)) as Row | undefined,
        value: async <V>(...params: unknown[]) => pluck().get(...bind(params)) as V | undefined,
        values: async <V>(...params: unknown[]) => pluck().all(...bind(params)) as V[],
        run: async (...params) => statement.run(...bind(params)).changes,
        insert: async (...params) => Number(statement.run(...bind(params)).lastInsertRowid),
      };
    },
    async transaction<T>(body: (tx: Transaction) => Promise<T>): Promise<T> {
      begin!.run();
      try {
        const result = await body(tx);
        commit!.run();
        return result;
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      }
    },
    list: (values) => JSON.stringify(values),
    // The file is local: a failure is a failure, never "try again shortly".
    unavailable: () => false,
    close: async () => void db.close(),
  };
}
