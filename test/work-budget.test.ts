// Server time per account: each event is charged the time its unit of work took, over all the account's sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { person, socket } from './helpers/clients.ts';
import { sleep } from './helpers/wait.ts';
import { alone, startShare } from '../src/thread-share.ts';
import type { ErrorEnvelope } from '../protocol/index.ts';

const refusal = /^rate limit: your events took more of the server's time than 20 ms a second \(bursts of 200 ms\) allows: retry in (\d+) ms$/;

test('an account hammering reads from several sockets is refused once its server time is spent; another account is not', async (t) => {
  const server = await startServer(t, { RATE_LIMIT_WORK_MS: '20', RATE_LIMIT_WORK_BURST_MS: '200' });
  const hammer = await person(server, 'hammer');
  const bystander = await person(server, 'bystander');
  const { id } = await hammer.client.request('create_conversation', { name: 'apples', members: [] });
  for (let i = 0; i < 20; i++) await hammer.client.request('send_message', { conversation_id: id, content: `apple number ${i}, apples again` });
  const sockets = [hammer.client, ...(await Promise.all([1, 2, 3].map(async () => (await socket(server, hammer.token)).client)))];

  // Rounds of 50 reads on each socket at once, until one is refused: the server runs nothing but
  // this account's work meanwhile, far more than 20 ms a second, however fast the machine.
  let refused: ErrorEnvelope | undefined;
  let bystanderPings = 0;
  for (let round = 0; round < 40 && !refused; round++) {
    const calls = sockets.flatMap((client) => Array.from({ length: 50 }, () => client.call({ type: 'get_messages', conversation_id: id })));
    // The other account's ping is answered while the hammer is refused.
    assert.equal(await bystander.client.request('ping'), 'pong');
    bystanderPings++;
    refused = (await Promise.all(calls)).find((reply): reply is ErrorEnvelope => !reply.success);
  }
  assert.ok(refused, 'after 40 rounds of 200 reads the account was never refused');
  assert.equal(refused.type, 'get_messages');
  assert.equal(refused.code, 'rate_limited');
  assert.match(refused.error, refusal);
  assert.ok(bystanderPings > 0);

  // Every socket of the account owes the same time: a read on another of its sockets is refused at once
  // (unless the debt was paid off in between, when it runs and is charged).
  const last = await sockets[3]!.call({ type: 'get_messages', conversation_id: id });
  if (!last.success) {
    assert.equal(last.code, 'rate_limited');
    const wait = Number(refusal.exec(last.error)![1]);
    // Once the announced wait is over the account may go on.
    await sleep(wait + 20);
    assert.equal(await sockets[0]!.request('ping'), 'pong');
  }
  assert.equal(await bystander.client.request('ping'), 'pong');
});

test('events of a chat stay within the default budget', async (t) => {
  const server = await startServer(t, { RATE_LIMIT_WORK_MS: '100', RATE_LIMIT_WORK_BURST_MS: '250' });
  const alice = await person(server, 'alice');
  const { id } = await alice.client.request('create_conversation', { name: 'notes', members: [] });
  const sent = await Promise.all(Array.from({ length: 200 }, (_, i) => alice.client.call({ type: 'send_message', conversation_id: id, content: `note ${i}` })));
  assert.deepEqual(sent.filter((reply) => !reply.success), []);
  const read = await Promise.all(Array.from({ length: 20 }, () => alice.client.call({ type: 'get_messages', conversation_id: id })));
  assert.deepEqual(read.filter((reply) => !reply.success), []);
  for (let i = 0; i < 10; i++) assert.equal((await alice.client.request('search_messages', { query: 'note' })).messages.length, 20);
});

test('work under way at once shares the time it overlaps; time spent on other things alone is charged to none of it', async () => {
  const at: number[] = [];
  const mark = () => at.push(performance.now());
  mark();
  const first = startShare();
  await sleep(30);
  mark();
  const second = startShare();
  await sleep(30);
  mark();
  const firstMs = first();
  await sleep(30);
  mark();
  // Another account's frame, say: the second piece waited meanwhile, and is not charged for it.
  alone(() => {
    while (performance.now() - at[3]! < 30);
  });
  mark();
  await sleep(30);
  mark();
  const secondMs = second();
  const span = (from: number, to: number) => at[to]! - at[from]!;
  const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1, `${actual} ms charged, ${expected} ms expected`);
  close(firstMs, span(0, 1) + span(1, 2) / 2);
  close(secondMs, span(1, 2) / 2 + span(2, 3) + span(4, 5));
  // Ending a piece again gives the same charge.
  assert.equal(first(), firstMs);
});
