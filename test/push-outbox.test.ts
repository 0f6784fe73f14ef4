// The outbox contract (test/helpers/outbox-contract.ts), run against every outbox: the in-memory one the
// worker's tests use, SQLite's and PostgreSQL's (src/storage/outbox.ts).
import { after, test } from 'node:test';
import { createLogger } from '../src/log.ts';
import { createStore, openDatabase, sqliteDriver, type Store } from '../src/storage/index.ts';
import { migratePostgres, postgresDriver, postgresPool } from '../src/storage/engine/postgres.ts';
import { createMemoryOutbox } from './helpers/memory-outbox.ts';
import { contractDevices, outboxContract } from './helpers/outbox-contract.ts';
import { missing, needs } from './helpers/installed.ts';
import { testDatabase } from './helpers/postgres.ts';

/** Users 1 and 2, each logged in once, and the contract's devices registered in order (so their ids are 1, 2, 3). */
async function withContractDevices(store: Store): Promise<Store> {
  for (const username of ['one', 'two']) {
    const id = (await store.users.insert({ username, fullname: username, passwordHash: 'x', now: 1 }))!;
    await store.sessions.create({ id: `session-${id}`, userId: id, createdAt: 1, expiresAt: 2 ** 40 });
  }
  for (const device of contractDevices) {
    const common = { userId: device.userId, sessionId: `session-${device.userId}`, name: '', now: 1 };
    const registered = await store.devices.register(device.kind === 'webpush'
      ? { ...common, kind: 'webpush', endpoint: device.subscription.endpoint, ...device.subscription.keys }
      : { ...common, kind: 'webhook', token: device.token, platform: device.platform });
    if (registered !== device.id) throw new Error(`device ${device.id} was registered as ${registered}`);
  }
  return store;
}

outboxContract('in-memory', async () => createMemoryOutbox(contractDevices));

outboxContract('SQLite', async () => (await withContractDevices(createStore(sqliteDriver(openDatabase(':memory:'))))).outbox);

if (missing(['postgres']).length === 0) {
  const pools: { end(): Promise<void> }[] = [];
  after(() => Promise.all(pools.map((pool) => pool.end())));
  outboxContract('PostgreSQL', async () => {
    const pool = postgresPool({ url: await testDatabase(), pool: 4, log: createLogger('silent') });
    pools.push(pool);
    await migratePostgres(pool, createLogger('silent'));
    return (await withContractDevices(createStore(postgresDriver(pool)))).outbox;
  });
} else {
  test('PostgreSQL outbox', (t) => void needs(t, 'postgres'));
}

