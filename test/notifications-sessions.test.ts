// A device belongs to the session that registered it: once that session has ended (expired, or
// revoked), the device gets nothing more, from that moment on rather than at the hourly prune.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { person } from './helpers/clients.ts';
import { awayWithDevice, drained, pushServer, receivedBy, waitForPushes } from './helpers/push-server.ts';
import { onDatabase } from './helpers/store.ts';

// A revoked session's devices go in the revoke's own unit of work: notifications.test.ts ('revoking a session removes its devices').
test('a device whose session expired gets no notification from that moment, and goes', async (t) => {
  const setup = await pushServer(t); // no coalescing: a notification goes as soon as it is queued
  const { server, service } = setup;
  const alice = await person(server, 'alice');
  const bob = await awayWithDevice(setup, 'bob');
  const carol = await awayWithDevice(setup, 'carol');
  const group = await alice.client.request('create_conversation', { name: 'plans', members: [bob.username, carol.username] });
  for (const away of [bob, carol]) await waitForPushes(service, away.subscription, 1); // added: both devices work
  await drained(server);

  // Bob's session runs out (its 30 days): the clock's moment is written into the database.
  const now = Math.floor(Date.now() / 1000);
  const devicesOf = (username: string) =>
    onDatabase(server, (db) => db.prepare('SELECT count(*) FROM devices JOIN users ON users.id = devices.user_id WHERE users.username = $1').value<number>(username));
  await onDatabase(server, (db) => db.prepare('UPDATE sessions SET expires_at = $1 WHERE user_id = (SELECT id FROM users WHERE username = $2)').run(now - 1, bob.username));
  await alice.client.request('send_message', { conversation_id: group.id, content: 'the secret plan is at noon' });
  await waitForPushes(service, carol.subscription, 2); // a live session's device is told
  await drained(server);
  assert.deepEqual(receivedBy(service, bob.subscription).map((item) => (item.payload as { kind: string }).kind), ['added'], 'nothing after the session expired');
  assert.equal(Number(await devicesOf(bob.username)), 0, 'the expired session\'s device is gone, not left for the hourly prune');
  assert.equal(Number(await devicesOf(carol.username)), 1);
  assert.deepEqual(service.rejected, []);
});
