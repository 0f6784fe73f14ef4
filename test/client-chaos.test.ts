// Chaos: 2,000 messages from one reconnecting client to another while a proxy cuts their connections
// at random and the server is killed (SIGKILL) and restarted twice on the same database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import { startProxy } from './helpers/proxy.ts';
import { live, logged, said, seesLog, signIn, type Live } from './helpers/connected.ts';
import { sleep, until } from './helpers/wait.ts';

const total = 2000;


test('2,000 messages through random cuts and two SIGKILLs: the receiver sees the server\'s log exactly, each message once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-chaos-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let server = await startServer(t, {}, dir);
  const proxy = await startProxy(t, server.port);
  const sender = await signIn(server, proxy.url, 'sender');
  const receiver = await signIn(server, proxy.url, 'receiver');
  const options = { ping: { everyMs: 1000, timeoutMs: 2000 } };
  const from = live(proxy.url, sender.cookies, options);
  const to = live(proxy.url, receiver.cookies, options);
  t.after(() => (from.client.close(), to.client.close()));
  const room = await from.client.request('create_conversation', { members: [receiver.username] });

  let sending = true;
  let cuts = 0;
  let answered = 0;
  // Each connection lives 20–300 ms and until it has carried something (a reply or a delivery): cutting at a
  // fixed pace alone starved the clients on a loaded machine, where a reconnect and its sync on PostgreSQL
  // can take longer than that, and the run never ended.
  const progress = () => answered + said(to).length;
  const chaos = (async () => {
    while (sending) {
      const before = progress();
      await sleep(20 + Math.random() * 280);
      await until('a reply or a delivery since the last cut', () => !sending || progress() > before, 120_000);
      cuts += proxy.cut();
    }
  })();
  // One restart after the other: on a busy machine the first may still be starting when the second is
  // due, and killing the old server again while the new one starts would leave two on one database.
  let restarted = Promise.resolve();
  const restarts: Promise<void>[] = [];
  const restart = () => (restarted = restarted.then(async () => {
    await server.stop('SIGKILL');
    server = await startServer(t, {}, dir);
    proxy.retarget(server.port);
  }));

  const replies = [];
  let stored;
  try {
    for (let index = 0; index < total; index++) {
      replies.push(from.client.request('send_message', { conversation_id: room.id, content: `message ${index}` }).then((message) => (answered++, message)));
      if (index === 600 || index === 1300) restarts.push(restart());
      if (index % 10 === 9) {
        await sleep(40 + Math.random() * 60); // about 150 messages a second
        // ...and no faster than the cuts, about one every 25 messages: on a loaded machine a reconnect and
        // its sync take longer, and fewer cuts fell within the sending. At most a second's wait: a cut
        // waits for a reply or a delivery, which the next messages bring.
        for (const deadline = Date.now() + 1000; cuts < (index + 1) / 25 && Date.now() < deadline;) await sleep(10);
      }
    }
    await Promise.all(restarts);
    stored = await Promise.all(replies);
  } finally {
    sending = false;
    await chaos;
  }

  const expected = Array.from({ length: total }, (_, index) => `message ${index}`);
  assert.deepEqual(stored.map((message) => message.content), expected, 'every send answered, in order');
  assert.equal(new Set(stored.map((message) => message.id)).size, total, 'each stored once');
  await until(() => said(to).length, () => said(to).length >= total, 20_000);
  assert.deepEqual(said(to), expected, 'the receiver saw each message once, in order');
  await until(() => said(from).length, () => said(from).length >= total);
  assert.deepEqual(said(from), expected, 'so did the sender, its own messages once each');
  await seesLog(to, server, receiver.cookies);
  await seesLog(from, server, sender.cookies);
  const reconnects = (app: Live) => app.states.filter((state) => state.status === 'open').length - 1;
  assert.ok(cuts > 50 && reconnects(to) > 30, `${cuts} connections cut; the receiver reconnected ${reconnects(to)} times`);
  t.diagnostic(`${cuts} connections cut; reconnects: sender ${reconnects(from)}, receiver ${reconnects(to)}; receiver's log: ${logged(to.delivered).length} events`);
});
