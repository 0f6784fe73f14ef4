// SQLite's storage ceiling: the same message rows, through the same prepared statement and schema, one
// transaction per row as the server commits them. Prints rows/s as one JSON line. (PostgreSQL's is
// measured with its own client: ceiling.ts.)
//   tsx test/bench/storage.ts SECONDS
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore, openDatabase, sqliteDriver } from '../../src/storage/index.ts';

const seconds = Number(process.argv[2] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'parley-storage-'));
const store = createStore(sqliteDriver(openDatabase(join(dir, 'ceiling.db'))));
const now = Math.floor(Date.now() / 1000);
const a = (await store.users.insert({ username: 'a_user', fullname: 'A', passwordHash: 'x', now }))!;
const b = (await store.users.insert({ username: 'b_user', fullname: 'B', passwordHash: 'x', now }))!;
const conversations: number[] = [];
for (let i = 0; i < 500; i++) conversations.push(await store.conversations.create({ name: `pair ${i}`, creatorId: a, memberIds: [a, b], now }));

const content = `a:${(performance.timeOrigin + performance.now()).toFixed(3)}`;
let rows = 0;
const start = performance.now();
const end = start + seconds * 1000;
while (performance.now() < end) {
  for (let i = 0; i < 100; i++) {
    await store.messages.insert({ conversationId: conversations[rows % 500]!, senderId: rows % 2 ? a : b, replyId: null, content, sentAt: now, clientId: null });
    rows++;
  }
}
const elapsed = (performance.now() - start) / 1000;
await store.driver.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ rows, seconds: elapsed, rate: rows / elapsed })}\n`);
