// What PostgreSQL itself can take on this machine, measured with its own client (pgbench, C, one
// process) so that no Node.js client's cost is counted: message rows inserted into the same schema, one
// per transaction from one connection and from several, and 50 per transaction from several. The
// highest of these is the ceiling Parley on PostgreSQL is compared with.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { postgresBin } from '../helpers/installed.ts';

export type PostgresCeiling = {
  /** Rows/s: one row per transaction from one connection (what the earlier ceiling measured). */
  oneConnection: number;
  /** Rows/s: one row per transaction from `connections` connections at once. */
  connections: number;
  /** Rows/s: 50-row transactions from `connections` connections at once. */
  multiRow: number;
  /** The highest of the three. */
  ceiling: number;
};

const clients = 8;
const rowsPerTransaction = 50;

/** pgbench's transactions per second for `script` on `clientCount` connections for `seconds`. */
function pgbench(url: string, script: string, clientCount: number, seconds: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'parley-pgbench-'));
  try {
    const file = join(dir, 'script.sql');
    writeFileSync(file, script);
    const bin = postgresBin();
    const program = bin ? join(bin, 'pgbench') : 'pgbench';
    const output = execFileSync(program, ['-n', '-f', file, '-c', String(clientCount), '-j', String(Math.min(clientCount, 2)), '-T', String(seconds), url], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const tps = /tps = ([\d.]+)/.exec(output);
    if (!tps) throw new Error(`pgbench printed no tps:\n${output}`);
    return Number(tps[1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Measures `url`'s database (migrated, empty): two users and 500 conversations are made first. */
export async function postgresCeiling(url: string, seconds: number): Promise<PostgresCeiling> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  let first: number;
  let sender: number;
  try {
    const now = Math.floor(Date.now() / 1000);
    const [a] = await sql<{ id: string }[]>`INSERT INTO users (username, fullname, password_hash, created_at, last_online) VALUES ('ceiling_a', 'A', 'x', ${now}, ${now}) RETURNING id`;
    sender = Number(a!.id);
    const ids = await sql<{ id: string }[]>`INSERT INTO conversations (name, kind, description, creator_id, created_at) SELECT 'pair ' || i, 'group', '', ${sender}, ${now} FROM generate_series(1, 500) AS i RETURNING id`;
    first = Math.min(...ids.map((row) => Number(row.id)));
  } finally {
    await sql.end();
  }
  const content = "'a:1764000000000.000'";
  const one = `\\set c random(${first}, ${first + 499})\nINSERT INTO messages (conversation_id, sender_id, content, sent_at) VALUES (:c, ${sender}, ${content}, 1);\n`;
  const many = `INSERT INTO messages (conversation_id, sender_id, content, sent_at) SELECT ${first} + (i % 500), ${sender}, ${content}, 1 FROM generate_series(1, ${rowsPerTransaction}) AS i;\n`;
  const oneConnection = pgbench(url, one, 1, seconds);
  const connections = pgbench(url, one, clients, seconds);
  const multiRow = pgbench(url, many, clients, seconds) * rowsPerTransaction;
  return { oneConnection, connections, multiRow, ceiling: Math.max(oneConnection, connections, multiRow) };
}

/** How the ceiling is printed. */
export const describeCeiling = (c: PostgresCeiling) =>
  `${Math.round(c.oneConnection)} rows/s one per transaction from 1 connection, ${Math.round(c.connections)} from ${clients}, ${Math.round(c.multiRow)} in ${rowsPerTransaction}-row transactions from ${clients}`;
