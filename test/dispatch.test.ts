// Handler tier: dispatch against a real in-memory database with a recording connection and registry, no sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSettings } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { createStore, openDatabase, sqliteDriver } from '../src/storage/index.ts';
import { dispatch } from '../src/dispatch.ts';
import { withRef } from '../src/envelope.ts';
import { assembleApp } from '../src/app.ts';
import type { SocketCtx } from '../src/context.ts';
import { createMetrics } from '../src/metrics.ts';
import * as prom from 'prom-client';
import type { Connection } from '../src/connection.ts';
import { sleep } from './helpers/wait.ts';

function harness() {
  const published: { topic: string; text: string }[] = [];
  const logged: string[] = [];
  const store = createStore(sqliteDriver(openDatabase(':memory:')));
  const log = createLogger('debug', (line) => logged.push(line));
  const app = assembleApp({
    settings: readSettings({}),
    log,
    metrics: createMetrics(prom),
    store,
    publish: (topic, text) => published.push({ topic, text }),
    subscribers: () => 0,
    mail: { send: async () => {} },
    push: { publicKey: 'none', wake: () => {} },
    exports: { build: () => {} },
    tokens: undefined as never, // not used by socket events
    secondFactor: undefined as never,
    passwords: undefined as never,
    now: () => 1_700_000_000,
  });
  const connect = async (username: string) => {
    const id = (await store.users.insert({ username, fullname: username.toUpperCase(), passwordHash: 'x', now: app.now() }))!;
    const sent: unknown[] = [];
    const others: { topic: string; text: string }[] = [];
    const caller: Connection = {
      id,
      user: { id, username },
      sessionId: `s${id}`,
      expiresAt: Number.MAX_SAFE_INTEGER,
      ip: '127.0.0.1',
      closed: false,
      secondFactorDue: false,
      send: (text) => sent.push(JSON.parse(text)),
      end: () => {},
      subscribe: () => {},
      unsubscribe: () => {},
      publishToOthers: (topic, text) => others.push({ topic, text }),
      buffered: () => 0,
      spend: () => true,
      work: { wait: () => 0, charge: () => {}, startRead: () => () => {}, awaitRead: async () => () => {} },
    };
    app.registry.add(caller, []);
    const ctx: SocketCtx = { ...app, caller };
    return { id, ctx, sent, others, send: (frame: object) => dispatch(ctx, JSON.stringify(frame)) };
  };
  return { app, published, logged, connect };
}

/** Replies wait for the batch's commit, which runs after the current turn of the event loop. */
const committed = () => sleep(5);

test('replies go to the caller only, after the commit; fan-out is one logged payload, published once to the conversation', async () => {
  const { published, connect } = harness();
  const alice = await connect('alice');
  const bob = await connect('bob');
  alice.send({ type: 'create_conversation', name: 'pair', members: ['bob'], ref: 'c1' });
  assert.deepEqual(alice.sent, [], 'nothing is sent before the commit');
  await committed();
  const created = { type: 'create_conversation', success: true, data: { id: 1, name: 'pair', members: ['alice', 'bob'], kind: 'group', description: '', created_at: 1_700_000_000, avatar_url: null }, seq: 1 };
  assert.deepEqual(alice.sent, [{ ...created, ref: 'c1' }]);
  assert.deepEqual(alice.others, [{ topic: 'conversation:1', text: JSON.stringify(created) }], 'every member socket but the caller');
  assert.deepEqual(published, []);
  assert.deepEqual(bob.sent, []);
});

test('membership is checked before the other fields, and nothing is stored on an error', async () => {
  const { app, connect } = harness();
  const alice = await connect('alice');
  const bob = await connect('bob');
  alice.send({ type: 'create_conversation', members: [] });
  bob.send({ type: 'send_message', conversation_id: 1, content: 42, ref: 1 });
  await committed();
  assert.deepEqual(bob.sent, [{ type: 'send_message', success: false, error: 'bob not part of conversation with 1 id', code: 'not_found', ref: 1 }]);
  alice.sent.length = 0;
  alice.send({ type: 'send_message', conversation_id: 1, content: 42 });
  await committed();
  assert.deepEqual(alice.sent, [{ type: 'send_message', success: false, error: 'expected content as string', code: 'bad_request' }]);
  assert.deepEqual(await app.store.messages.page(1, alice.id, { before: null, after: null, floor: 0 }, 100), []);
});

test('an exception that is not a ParleyError becomes internal, logged once', async () => {
  const { app, logged, connect } = harness();
  const alice = await connect('alice');
  alice.send({ type: 'create_conversation', members: [] });
  await committed();
  await app.store.driver.prepare('DROP TABLE messages').run();
  alice.sent.length = 0;
  alice.send({ type: 'get_messages', conversation_id: 1, ref: 9 });
  await committed();
  assert.deepEqual(alice.sent, [{ type: 'get_messages', success: false, error: 'internal server error', code: 'internal', ref: 9 }]);
  const errors = logged.map((line) => JSON.parse(line)).filter((line) => line.level === 'error');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].msg, 'handler failed');
  assert.match(errors[0].error.message, /no such table: messages/);
});

test('withRef splices the ref into a serialised envelope exactly as JSON.stringify would', () => {
  const text = JSON.stringify({ type: 't', success: true, data: { a: [1, '}'] } });
  for (const ref of ['r', 'quote"and\\slash', 0, -5, 2 ** 53 - 1]) {
    assert.deepEqual(JSON.parse(withRef(text, ref)), { type: 't', success: true, data: { a: [1, '}'] }, ref });
  }
  assert.equal(withRef(text, undefined), text);
});

test('effects registered by work that fails are dropped with its writes; the rest of the batch goes on', async () => {
  const { app } = harness();
  const ran: string[] = [];
  const first = app.commit.run((job) => job.after(() => ran.push('kept')));
  const second = app.commit.run(
    async (job) => {
      await app.store.users.insert({ username: 'rolled_back', fullname: 'x', passwordHash: 'x', now: 1 });
      job.after(() => ran.push('dropped'));
      throw new Error('fails');
    },
    (error, job) => job.after(() => ran.push(`failed: ${(error as Error).message}`)),
  );
  const third = app.commit.run((job) => job.after(() => ran.push('also kept')));
  await assert.rejects(second, /fails/);
  await Promise.all([first, third]);
  assert.deepEqual(ran, ['kept', 'failed: fails', 'also kept'], 'in order, the failed unit answered in its place');
  assert.equal(await app.store.users.byUsername('rolled_back'), undefined);
});

test('units of work run one at a time in the order they came, even when one waits', async () => {
  const { app } = harness();
  const order: string[] = [];
  const slow = app.commit.run(async () => {
    order.push('slow starts');
    await sleep(20);
    await app.store.users.insert({ username: 'slow', fullname: 'x', passwordHash: 'x', now: 1 });
    order.push('slow ends');
  });
  const fast = app.commit.run(async () => {
    order.push('fast runs');
    return app.store.users.byUsername('slow');
  });
  await slow;
  assert.equal((await fast)?.username, 'slow', 'the later unit sees what the earlier one wrote');
  assert.deepEqual(order, ['slow starts', 'slow ends', 'fast runs']);
});
