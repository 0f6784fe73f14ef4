// The SQLite engine (better-sqlite3): synchronous statements behind the engine-independent interface,
// and transactions on the one writing connection.
import type { Db } from '../sqlite/db.ts';
import { sqlitePlaceholders, textFor, type Driver, type LocalStatement, type Sql, type Statement, type Text, type Transaction } from './sql.ts';

/** Numbered placeholders bind from an object: `{1: first, 2: second}`. */
const byNumber = (params: unknown[]) => [Object.fromEntries(params.map((value, index) => [index + 1, value]))];
const asGiven = (params: unknown[]) => params;

function statementsOn(db: Db): Sql {
  const local = <Row>(text: string): LocalStatement<Row> => {
    const { text: sql, byNumber: numbered } = sqlitePlaceholders(text);
    const bind = numbered ? byNumber : asGiven;
    const statement = db.prepare(sql);
    return {
      all: (...params) => statement.all(...bind(params)) as Row[],
      get: (...params) => statement.get(...bind(params)) as Row | undefined,
      run: (...params) => statement.run(...bind(params)),
    };
  };
  return {
    engine: 'sqlite',
    local: { prepare: local },
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
    list: (values) => JSON.stringify(values),
  };
}

/**
 * `db` writes (every batch's transaction is on it); `reader`, a read-only connection to the same file,
 * answers statements made outside any batch, so that they never see a batch's uncommitted writes (WAL
 * lets it read while `db` writes). Without one (`:memory:`, tests), those run on `db` too.
 */
export function sqliteDriver(db: Db, reader?: Db): Driver & { readonly db: Db } {
  // Prepared once: exec() parses its text every time, which cost a quarter of a message's handling.
  const [begin, commit, savepoint, release, rollbackTo] = ['BEGIN IMMEDIATE', 'COMMIT', 'SAVEPOINT unit', 'RELEASE unit', 'ROLLBACK TO unit'].map((sql) => db.prepare(sql));
  let finishing: (() => Promise<unknown>)[] = [];
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
    last(statement) {
      finishing.push(statement);
    },
  };
  const inBatch = statementsOn(db);
  return {
    ...(reader ? statementsOn(reader) : inBatch),
    db,
    batch: inBatch,
    unitsPerTransaction: Number.POSITIVE_INFINITY,
    async transaction<T>(body: (tx: Transaction) => Promise<T>): Promise<T> {
      begin!.run();
      finishing = [];
      try {
        const result = await body(tx);
        for (const statement of finishing) await statement();
        commit!.run();
        return result;
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      } finally {
        finishing = [];
      }
    },
    // The file is local: a failure is a failure, never "try again shortly".
    unavailable: () => false,
    retryable: () => false,
    close: async () => {
      reader?.close();
      db.close();
    },
  };
}
