// The reconnecting client against the real server, through a proxy that cuts and freezes connections:
// the event stream an app sees, the resend queue, pending requests at a disconnect, liveness, reset.
import { test } from 'node:test';
import { onDatabase } from './helpers/store.ts';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { open, person, type Person } from './helpers/clients.ts';
import { startProxy } from './helpers/proxy.ts';
import { live, opened, said, seesLog, signIn } from './helpers/connected.ts';
import { sleep, until } from './helpers/wait.ts';
import { Disconnected, memoryStorage } from '../protocol/connect.ts';


/** Alice on the reconnecting client through a proxy, Bob on a plain socket, in one conversation. */
async function pair(t: Parameters<typeof startServer>[0], env: Record<string, string> = {}, options: Parameters<typeof live>[2] = {}) {
  const server = await startServer(t, env);
  const proxy = await startProxy(t!, server.port);
  const bob = await person(server, 'bob');
  const alice = await signIn(server, proxy.url, 'alice');
  const app = live(proxy.url, alice.cookies, options);
  t!.after(() => app.client.close());
  const room = await app.client.request('create_conversation', { members: [bob.username] });
  return { server, proxy, bob, alice, app, room };
}

const send = (person: Person, conversation_id: number, content: string) => person.client.request('send_message', { conversation_id, content });

test('every logged event reaches `on` once, in seq order, the app\'s own included', async (t) => {
  const { server, bob, alice, app, room } = await pair(t);
  const order: string[] = [];
  app.client.on('send_message', (message) => order.push(`event ${message.content}`));
  const mine = await app.client.request('send_message', { conversation_id: room.id, content: 'one' }).finally(() => order.push('reply'));
  await send(bob, room.id, 'two');
  const again = await app.client.request('send_message', { conversation_id: room.id, content: 'three' });
  await until(() => app.delivered, () => said(app).length === 3);
  assert.deepEqual(said(app), ['one', 'two', 'three']);
  // The reply and the event are the same message, and the event comes first.
  assert.deepEqual(order.slice(0, 2), ['event one', 'reply']);
  const events = app.delivered.filter((event) => event.type === 'send_message');
  assert.deepEqual([events[0]?.data, events[2]?.data], [mine, again]);
  await seesLog(app, server, alice.cookies);
  assert.deepEqual(app.states, [{ status: 'open' }]);
});

test('after a cut the missed events come in order before the live ones, none twice', async (t) => {
  const { server, proxy, bob, alice, app, room } = await pair(t);
  await opened(app);
  const sending = (async () => {
    for (let index = 0; index < 150; index++) await send(bob, room.id, `m${index}`);
  })();
  for (let cuts = 0; cuts < 6; cuts++) {
    await sleep(40);
    proxy.cut();
  }
  await sending;
  await until(() => app.delivered.map((event) => `${event.seq}:${event.type}`), () => said(app).length === 150);
  assert.deepEqual(said(app), Array.from({ length: 150 }, (_, index) => `m${index}`));
  await seesLog(app, server, alice.cookies);
  assert.ok(app.states.some((state) => state.status === 'reconnecting'), JSON.stringify(app.states));
});

test('a request pending at a disconnect rejects with Disconnected; an unanswered send goes again and is stored once', async (t) => {
  const { server, proxy, bob, alice, app, room } = await pair(t);
  await opened(app);
  proxy.freeze('replies'); // requests reach the server, replies never come back
  const contacts = app.client.request('get_contacts');
  const sends = ['a', 'b', 'c'].map((content) => app.client.request('send_message', { conversation_id: room.id, content }));
  await until(() => bob.pushes, () => bob.pushes.filter((push) => push.type === 'send_message').length === 3); // stored
  proxy.cut();
  const later = app.client.request('send_message', { conversation_id: room.id, content: 'd' }); // made while disconnected
  const failure = await contacts.then(() => undefined, (error: unknown) => error);
  assert.ok(failure instanceof Disconnected);
  assert.deepEqual([failure.name, failure.type, failure.sent], ['Disconnected', 'get_contacts', true]);
  assert.match(failure.message, /^get_contacts: the connection was lost before the reply \(1006.*\); it may or may not have been handled$/);
  const stored = await Promise.all([...sends, later]);
  assert.deepEqual(stored.map((message) => message.content), ['a', 'b', 'c', 'd']);
  assert.equal(new Set(stored.map((message) => message.id)).size, 4);
  await until(() => app.delivered, () => said(app).length === 4);
  assert.deepEqual(said(app), ['a', 'b', 'c', 'd']);
  const history = await app.client.request('get_messages', { conversation_id: room.id });
  assert.deepEqual(history.messages.map((message) => message.content), ['d', 'c', 'b', 'a']);
  await seesLog(app, server, alice.cookies);
});

test('a dead connection is found by the client\'s own ping and replaced', async (t) => {
  const { proxy, bob, app, room } = await pair(t, {}, { ping: { everyMs: 200, timeoutMs: 300 } });
  await opened(app);
  const accepted = proxy.accepted;
  proxy.freeze();
  await send(bob, room.id, 'while frozen');
  await until(() => app.states, () => said(app).includes('while frozen'));
  assert.ok(proxy.accepted > accepted);
  assert.deepEqual(app.states.slice(0, 3).map((state) => state.status), ['open', 'reconnecting', 'connecting']);
});

test('messages refused by the rate limit wait and go again (on the same socket, or after a flooding close on the next), each stored once', async (t) => {
  const { app, room } = await pair(t, { RATE_LIMIT_EVENTS: '5', RATE_LIMIT_BURST: '10' });
  const contents = Array.from({ length: 30 }, (_, index) => `burst ${index}`);
  const stored = await Promise.all(contents.map((content) => app.client.request('send_message', { conversation_id: room.id, content })));
  assert.deepEqual(stored.map((message) => message.content), contents);
  await until(() => app.delivered, () => said(app).length === 30);
  assert.deepEqual(said(app), contents);
});

test('a client reading the same storage goes on from the last seq delivered', async (t) => {
  const storage = memoryStorage();
  const { server, proxy, bob, alice, app, room } = await pair(t, {}, { storage });
  await send(bob, room.id, 'before');
  await until('said(app).length === 1', () => said(app).length === 1);
  app.client.close();
  const kept = Number(storage.getItem(`parley:last-seq:${alice.username}`));
  assert.equal(kept, app.delivered.at(-1)?.seq);
  await send(bob, room.id, 'after');
  const next = live(proxy.url, alice.cookies, { storage });
  t.after(() => next.client.close());
  await until(() => next.delivered, () => said(next).length === 1);
  assert.deepEqual(said(next), ['after']);
  await seesLog(next, server, alice.cookies, kept);
});

test('a log pruned past the last seq delivered becomes a reset, and the stream goes on from the newest seq', async (t) => {
  const storage = memoryStorage();
  const { server, proxy, bob, alice, app, room } = await pair(t, {}, { storage });
  await send(bob, room.id, 'seen');
  await until('said(app).length === 1', () => said(app).length === 1);
  app.client.close();
  await send(bob, room.id, 'pruned');
  await server.stop();
  // Every event so far is two days old: the restarted server prunes them (EVENT_LOG_DAYS=1).
  const latest = await onDatabase(server, async (db) => {
    await db.prepare('UPDATE events SET created_at = created_at - 2 * 86400').run();
    return (await db.prepare('SELECT max(seq) FROM events').value<number>())!;
  });
  const restarted = await startServer(t, { EVENT_LOG_DAYS: '1' }, server.dir);
  proxy.retarget(restarted.port);
  const next = live(proxy.url, alice.cookies, { storage });
  t.after(() => next.client.close());
  await opened(next);
  const bobAgain = open(restarted, `login-token=${bob.token}`);
  await bobAgain.opened;
  await bobAgain.request('send_message', { conversation_id: room.id, content: 'after the reset' });
  await until(() => next.delivered, () => said(next).length === 1);
  assert.deepEqual(next.delivered[0], { type: 'reset', data: { next: latest } });
  assert.deepEqual(said(next), ['after the reset']);
  assert.ok(next.delivered.slice(1).every((event) => event.seq! > latest), JSON.stringify(next.delivered));
  await seesLog(next, restarted, alice.cookies, latest);
});

test('a last seq beyond the newest (a database restored from a backup) becomes a reset', async (t) => {
  const storage = memoryStorage();
  const { server, proxy, bob, alice, app, room } = await pair(t, {}, { storage });
  await send(bob, room.id, 'seen');
  await until('said(app).length === 1', () => said(app).length === 1);
  app.client.close();
  const newest = (await onDatabase(server, (db) => db.prepare('SELECT max(seq) FROM events').value<number>()))!;
  storage.setItem(`parley:last-seq:${alice.username}`, String(newest + 1000));
  const next = live(proxy.url, alice.cookies, { storage });
  t.after(() => next.client.close());
  await opened(next);
  await send(bob, room.id, 'after the reset');
  await until(() => next.delivered, () => said(next).length === 1);
  assert.deepEqual(next.delivered[0], { type: 'reset', data: { next: newest } });
  assert.deepEqual(said(next), ['after the reset']);
  await seesLog(next, server, alice.cookies, newest);
});
