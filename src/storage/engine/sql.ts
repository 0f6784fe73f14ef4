// The one interface every storage module is written against, whatever the engine: statements written
// once, with `$1, $2, …` placeholders, and a text of their own for an engine where the dialects differ.

export type Engine = 'sqlite' | 'postgres';

/** A statement's text: the same for both engines, or one for each. */
export type Text = string | { readonly sqlite: string; readonly postgres: string };

export type Statement<Row> = {
  all(...params: unknown[]): Promise<Row[]>;
  get(...params: unknown[]): Promise<Row | undefined>;
  /** The first column of the first row. */
  value<V = unknown>(...params: unknown[]): Promise<V | undefined>;
  /** The first column of every row. */
  values<V = unknown>(...params: unknown[]): Promise<V[]>;
  /** Rows changed. */
  run(...params: unknown[]): Promise<number>;
  /**
   * The id of the row an INSERT made: SQLite's last rowid (no RETURNING: it costs a microsecond a row);
   * on PostgreSQL the first column of what the statement's own text RETURNs.
   */
  insert(...params: unknown[]): Promise<number>;
};

export type Sql = {
  readonly engine: Engine;
  /** Prepared once (at startup, by each store); run as often as asked, on the open batch's transaction while there is one. */
  prepare<Row = Record<string, unknown>>(text: Text): Statement<Row>;
  /** A list as one parameter: JSON text for SQLite's `json_each`, an array for PostgreSQL's `unnest`/`ANY`. */
  list(values: readonly (number | string)[]): unknown;
  /**
   * SQLite's statements as they are: synchronous, in process. Where PostgreSQL takes many rows in one
   * statement (a round trip saved), SQLite is quickest a row at a time with plain parameters (JSON
   * arrays cost it a parse per value): stores use these in loops. Absent on PostgreSQL.
   */
  readonly local?: { prepare<Row = Record<string, unknown>>(text: string): LocalStatement<Row> };
};

/** A statement of SQLite's, run at once: rows, or what a write changed. */
export type LocalStatement<Row> = {
  all(...params: unknown[]): Row[];
  get(...params: unknown[]): Row | undefined;
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
};

/** `column IN (the list in parameter $n)`, in each engine's words. */
export function inList(column: string, param: string, type: 'bigint' | 'text' = 'bigint'): { sqlite: string; postgres: string } {
  return { sqlite: `${column} IN (SELECT value FROM json_each(${param}))`, postgres: `${column} = ANY(CAST(${param} AS ${type}[]))` };
}

/** Builds an engine pair from a template whose `${}` parts are engine pairs (or plain text, the same for both). */
export function dialect(strings: TemplateStringsArray, ...parts: (string | { sqlite: string; postgres: string })[]): { sqlite: string; postgres: string } {
  const build = (engine: Engine) => strings.reduce((text, chunk, i) => {
    const part = parts[i - 1]!;
    return text + (typeof part === 'string' ? part : part[engine]) + chunk;
  });
  return { sqlite: build('sqlite'), postgres: build('postgres') };
}

/** The open transaction, as units of work see it: each behind its own savepoint, so a failing unit undoes only itself. */
export type Transaction = {
  /**
   * Runs `work` behind a savepoint. If it throws (its own error or a statement's), everything it
   * wrote is undone, the error is rethrown, and the transaction goes on with the next unit.
   */
  unit<T>(work: () => Promise<T>): Promise<T>;
  /**
   * The batch's last statement, sent with its COMMIT (one round trip for both on PostgreSQL): when it
   * fails, nothing of the batch is committed and the transaction rejects with its error.
   */
  last(statement: () => Promise<unknown>): void;
};

/**
 * An engine's connection(s). Its own statements (`prepare`) run outside any batch, on committed data
 * (PostgreSQL: the pool's other connections; SQLite: the server's read-only connection, or the one
 * connection where there is only one); `batch` prepares statements that run in the open batch's
 * transaction, as its units of work see it, and nowhere else.
 */
export type Driver = Sql & {
  readonly batch: Sql;
  /** Runs `body` in one transaction, committed when it resolves; rolled back (and rethrown) when it throws. */
  transaction<T>(body: (tx: Transaction) => Promise<T>): Promise<T>;
  /** The most units one transaction may hold (PostgreSQL: a unit that wrote keeps its subtransaction's id until the COMMIT). */
  readonly unitsPerTransaction: number;
  /** Whether an error means the database could not be reached, rather than a statement failing. */
  unavailable(error: unknown): boolean;
  /** Whether a unit that failed with this error may simply run again (a deadlock, a serialization failure). */
  retryable(error: unknown): boolean;
  close(): Promise<void>;
};

/** The text of a statement for an engine. */
/** An INSERT whose new id `insert()` gives back: PostgreSQL's text returns `column`; SQLite's is left as it is. */
export const returning = (text: string, column = 'id'): { sqlite: string; postgres: string } => ({ sqlite: text, postgres: `${text} RETURNING ${column}` });

export const textFor = (text: Text, engine: Engine): string => (typeof text === 'string' ? text : text[engine]);

/**
 * SQLite's spelling of `$n` placeholders: plain `?` when they come in order, each once (the
 * arguments are then passed as they are); otherwise `?n`, bound from an object by number.
 */
export function sqlitePlaceholders(text: string): { text: string; byNumber: boolean } {
  const numbers = [...text.matchAll(/\$(\d+)/g)].map((match) => Number(match[1]));
  const inOrder = numbers.every((number, index) => number === index + 1);
  return { text: text.replace(/\$(\d+)/g, inOrder ? '?' : '?$1'), byNumber: !inOrder };
}

/** A LIKE pattern (used with ESCAPE '\\') for text starting with `text`, or containing it with `anywhere`; `%`, `_` and backslashes in it match themselves. */
export function likePattern(text: string, anywhere = false): string {
  const escaped = text.replace(/[\\%_]/g, (char) => `\\${char}`);
  return `${anywhere ? '%' : ''}${escaped}%`;
}
