// Moving up: copies a SQLite database into an empty PostgreSQL database, every id, seq and order
// kept, in one PostgreSQL transaction, and checks the copy table by table (counts and checksums).
import { createHash } from 'node:crypto';
import type postgres from 'postgres';
import type { Db } from '../sqlite/db.ts';
import type { Progress } from '../../progress.ts';

/**
 * The tables, parents before children, each with the columns that order its rows for the checksum.
 * `rowid` is SQLite's own order of rows (contacts, sessions, reactions rely on it); PostgreSQL keeps
 * it in a column of that name. SQLite's FTS tables are not copied: PostgreSQL keeps its own index.
 */
const tables: readonly { name: string; order: string; rowid?: true }[] = [
  { name: 'users', order: 'id' },
  { name: 'sessions', order: 'rowid', rowid: true },
  { name: 'used_refresh_tokens', order: 'hash' },
  { name: 'contacts', order: 'rowid', rowid: true },
  { name: 'blocks', order: 'user_id, blocked_id' },
  { name: 'conversations', order: 'id' },
  { name: 'members', order: 'conversation_id, user_id' },
  { name: 'bans', order: 'conversation_id, user_id' },
  { name: 'invitations', order: 'id' },
  { name: 'messages', order: 'id' },
  { name: 'reactions', order: 'rowid', rowid: true },
  { name: 'threads', order: 'root_id' },
  { name: 'thread_follows', order: 'root_id, user_id' },
  { name: 'files', order: 'id' },
  { name: 'message_attachments', order: 'message_id, position' },
  { name: 'file_blobs', order: 'key' },
  { name: 'events', order: 'seq' },
  { name: 'event_users', order: 'user_id, seq' },
  { name: 'member_periods', order: 'conversation_id, user_id, from_seq' },
  { name: 'one_time_codes', order: 'user_id, purpose' },
  { name: 'held_usernames', order: 'username' },
  { name: 'code_mails', order: 'user_id, purpose, sent_at, address' },
  { name: 'code_failures', order: 'user_id, purpose, failed_at' },
  { name: 'two_factor', order: 'user_id' },
  { name: 'recovery_codes', order: 'user_id, code_hash' },
  { name: 'mentions', order: 'message_id, user_id' },
  { name: 'devices', order: 'id' },
  { name: 'notices', order: 'id' },
  { name: 'push_outbox', order: 'device_id, key' },
  { name: 'oidc_links', order: 'provider, subject' },
  { name: 'oidc_logins', order: 'state' },
  { name: 'oidc_sessions', order: 'session_id' },
  { name: 'oidc_unlinked', order: 'provider, subject, user_id' },
  { name: 'bots', order: 'user_id' },
  { name: 'webhooks', order: 'id' },
  { name: 'commands', order: 'id' },
];

/** Identity columns, and the SQLite AUTOINCREMENT high-water marks they continue from (ids once used are never used again). */
const identities = [['users', 'id'], ['conversations', 'id'], ['messages', 'id'], ['sessions', 'rowid'], ['contacts', 'rowid'], ['reactions', 'rowid'], ['devices', 'id'], ['notices', 'id'], ['invitations', 'id'], ['webhooks', 'id'], ['commands', 'id']] as const;

const rowsAtOnce = 1000;

export type Copied = { table: string; rows: number; checksum: string }[];

/** The columns both engines have for a table (PostgreSQL's generated search vector left out). */
async function columnsOf(db: Db, tx: postgres.TransactionSql, table: string, rowid: boolean): Promise<string[]> {
  const sqlite = (db.pragma(`table_info(${table})`) as { name: string }[]).map((column) => column.name);
  const pg = new Set((await tx<{ column_name: string }[]>`SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ${table} AND is_generated = 'NEVER'`).map((row) => row.column_name));
  return [...(rowid ? ['rowid'] : []), ...sqlite.filter((column) => pg.has(column))];
}

/** A table's rows as the checksum sees them: every value as JSON, in `order`. */
function checksum(rows: Iterable<unknown[]>): string {
  const hash = createHash('sha256');
  for (const row of rows) hash.update(`${JSON.stringify(row)}\n`);
  return hash.digest('hex');
}

export async function copyToPostgres(db: Db, pool: postgres.Sql, progress: (label: string) => Progress): Promise<Copied> {
  const copied: Copied = [];
  await pool.begin(async (tx) => {
    const [found] = await tx<{ taken: number }[]>`SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM events) + (SELECT count(*) FROM conversations) AS taken`;
    if (Number(found?.taken) > 0) throw new Error('the PostgreSQL database already holds users, conversations or events: copy into an empty one');
    for (const { name, order, rowid } of tables) {
      const columns = await columnsOf(db, tx, name, rowid === true);
      const select = `SELECT ${columns.join(', ')} FROM ${name} ORDER BY ${order}`;
      const total = (db.prepare(`SELECT count(*) FROM ${name}`).pluck().get() as number) ?? 0;
      const shown = progress(`copying ${name}`);
      let batch: Record<string, unknown>[] = [];
      let done = 0;
      const sqliteRows = db.prepare(select).raw();
      const hash = createHash('sha256');
      for (const values of sqliteRows.iterate() as Iterable<unknown[]>) {
        hash.update(`${JSON.stringify(values)}\n`);
        batch.push(Object.fromEntries(columns.map((column, i) => [column, values[i]])));
        if (batch.length === rowsAtOnce) {
          await tx`INSERT INTO ${tx(name)} ${tx(batch as never, columns)}`;
          done += batch.length;
          batch = [];
          shown.update(done, total);
        }
      }
      if (batch.length) await tx`INSERT INTO ${tx(name)} ${tx(batch as never, columns)}`;
      shown.finish();
      const expected = hash.digest('hex');
      // Read back in the same order: the same rows, the same values.
      const back = (await tx.unsafe(select).values()) as unknown as unknown[][];
      const got = checksum(back);
      if (back.length !== total || got !== expected) throw new Error(`${name}: the copy does not match (${back.length} of ${total} rows, checksum ${got.slice(0, 12)} for ${expected.slice(0, 12)}); nothing was kept`);
      copied.push({ table: name, rows: total, checksum: expected });
    }
    // The counters: the next id and seq continue where SQLite's would.
    const sequence = (table: string) => (db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get(table) as number | undefined) ?? 0;
    for (const [table, column] of identities) {
      const high = Math.max(sequence(table), Number((await tx.unsafe(`SELECT coalesce(max(${column}), 0) AS high FROM ${table}`))[0]!.high));
      if (high > 0) await tx.unsafe(`SELECT setval(pg_get_serial_sequence('${table}', '${column}'), ${high})`);
    }
    await tx`UPDATE event_counter SET seq = ${sequence('events')}`;
    const pruned = db.prepare('SELECT pruned_through FROM event_log WHERE id = 1').pluck().get() as number;
    await tx`UPDATE event_log SET pruned_through = ${pruned}`;
  });
  return copied;
}
