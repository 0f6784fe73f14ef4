// SQLite's reader threads: a read on a thread with its own read-only connection answers what the same
// read on the server's thread does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seed, sqliteAt } from './bench/seed.ts';
import { startReaders } from '../src/reads/threads.ts';
import { openReader } from '../src/storage/sqlite/db.ts';
import { createStore, sqliteDriver } from '../src/storage/index.ts';
import { runRead } from '../src/reads/table.ts';
import { searchTerms } from '../src/features/search.ts';
import { createLogger } from '../src/log.ts';

test('searches on reader threads answer what they answer on the server thread', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-readers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'parley.db');
  await seed(sqliteAt(path), { users: 3, channel: 3000 });
  const reader = openReader(path);
  t.after(() => reader.close());
  const here = createStore(sqliteDriver(reader, reader));
  const threads = startReaders(path, 2, createLogger('error'));
  t.after(() => threads.close());

  const asked = [
    { query: 'common', before: null, limit: 20 },
    { query: 'word1*', before: null, limit: 100 },
    { query: '"message number" 2999', before: null, limit: 20 },
    { query: 'number', before: 1500, limit: 50 },
    { query: 'nothing', before: null, limit: 20 },
  ];
  for (const { query, before, limit } of asked) {
    const search = { reader: 1, terms: searchTerms(query), conversation: null, before, limit, budget: 2000, open: '[', close: ']' };
    const [there, onThread] = await Promise.all([threads.run('search', search), runRead(here, 'search', search)]);
    assert.deepEqual(there.value, onThread.value, query);
    assert.ok(there.ms >= 0);
  }
  const some = await runRead(here, 'search', { reader: 1, terms: searchTerms('common'), conversation: null, before: null, limit: 20, budget: 2000, open: '[', close: ']' });
  assert.equal(some.value.shown.length, 20, 'the reader (a member) finds messages');
});
