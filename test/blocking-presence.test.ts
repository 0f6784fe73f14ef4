// A block hides presence both ways (review 25, L2): in a group they share, the person blocked is not
// shown the blocker's typing or receipts (live or by sync), as get_members shows the blocker offline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { person, pushed, settle, syncAll, waitFor } from './helpers/clients.ts';

test('the person blocked is not shown the blocker\'s typing and receipts in a shared group', async (t) => {
  const server = await startServer(t);
  const olga = await person(server, 'olga'); // blocks kurt
  const kurt = await person(server, 'kurt');
  const carl = await person(server, 'carl'); // a friend of both, who sees everything
  const group = await carl.client.request('create_conversation', { name: 'book club', members: [olga.username, kurt.username] });
  await olga.client.request('block_user', { username: kurt.username });
  const since = (await kurt.client.request('sync', { since: 0, limit: 500 })).next;
  const carls = await carl.client.request('send_message', { conversation_id: group.id, content: 'chapter one?' });
  await settle(olga.client, kurt.client, carl.client);

  await olga.client.request('typing', { conversation_id: group.id, is_typing: true });
  await olga.client.request('mark_read', { conversation_id: group.id, message_id: carls.id });
  const olgas = (push: { type: string; data: unknown }) => (push.data as { username?: string }).username === olga.username;
  await waitFor(carl.pushes, (push) => push.type === 'typing' && olgas(push));
  await waitFor(carl.pushes, (push) => push.type === 'receipt' && olgas(push) && (push.data as { read_id?: number }).read_id === carls.id);
  // Whatever reached Carl was sent to Kurt's socket before: one round trip more and it would be here.
  await settle(kurt.client);

  const members = await kurt.client.request('get_members', { conversation_id: group.id });
  assert.deepEqual({
    online: members.find((member) => member.username === olga.username)?.is_online,
    typing: pushed(kurt.pushes, 'typing').filter((data) => data.username === olga.username),
    receipts: pushed(kurt.pushes, 'receipt').filter((data) => data.username === olga.username),
    synced: (await syncAll(kurt.client, since)).filter((event) => event.type === 'receipt' && olgas(event)),
  }, { online: false, typing: [], receipts: [], synced: [] }, 'to Kurt she is offline: no typing of hers, no receipt, live or by sync');
  // Kurt's own receipts and typing still do not reach her (the other way, as before).
  await kurt.client.request('typing', { conversation_id: group.id, is_typing: true });
  await waitFor(carl.pushes, (push) => push.type === 'typing' && (push.data as { username: string }).username === kurt.username);
  await settle(olga.client);
  assert.deepEqual(pushed(olga.pushes, 'typing').filter((data) => data.username === kurt.username), []);
  // Carl's sync has her receipt: it is hidden from Kurt alone.
  assert.ok((await syncAll(carl.client, since)).some((event) => event.type === 'receipt' && olgas(event)));
  // Nor does Kurt read how far she has read from get_receipts or get_members; Carl does.
  const receiptsFor = async (client: typeof carl.client) => {
    const receipts = await client.request('get_receipts', { message_id: carls.id });
    return { delivered: receipts.delivered.includes(olga.username), read: receipts.read.includes(olga.username) };
  };
  const herPoint = async (client: typeof carl.client) =>
    (await client.request('get_members', { conversation_id: group.id })).find((member) => member.username === olga.username)!.last_read_id;
  assert.deepEqual({ kurt: await receiptsFor(kurt.client), carl: await receiptsFor(carl.client) }, { kurt: { delivered: false, read: false }, carl: { delivered: true, read: true } });
  assert.deepEqual({ kurt: await herPoint(kurt.client), carl: await herPoint(carl.client) }, { kurt: 0, carl: carls.id });
  // Both ways: Olga is not shown Kurt's point either (Carl is).
  await kurt.client.request('mark_read', { conversation_id: group.id, message_id: carls.id });
  const kurtsFor = async (client: typeof carl.client) =>
    (await client.request('get_members', { conversation_id: group.id })).find((member) => member.username === kurt.username)!.last_read_id;
  assert.deepEqual({ olga: await kurtsFor(olga.client), carl: await kurtsFor(carl.client) }, { olga: 0, carl: carls.id });
});
