// Listing your conversations when there are many (review 25, M1 and H1): list_conversations pages with
// a cursor and a limit in either order, and the seed's get_conversations answers at most 500.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { expectError, person, type Person } from './helpers/clients.ts';

/** Every page of `list_conversations` for these fields, as the ids of each page. */
async function pages(who: Person, fields: { sort?: 'created' | 'recent'; filter?: 'all' | 'favorites' | 'pinned'; limit: number }): Promise<number[][]> {
  const all: number[][] = [];
  let after: string | null = null;
  do {
    const page: { conversations: { id: number }[]; next: string | null } = await who.client.request('list_conversations', { ...fields, after });
    all.push(page.conversations.map((item) => item.id));
    after = page.next;
  } while (after !== null);
  return all;
}

test('list_conversations and get_conversations', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const ids: number[] = [];
  for (let i = 0; i < 7; i++) ids.push((await bob.client.request('create_conversation', { name: `room ${i}`, members: [alice.username] })).id);

  await t.test('pages in creation order: a cursor, a limit, and next null on the last page', async () => {
    assert.deepEqual(await pages(alice, { limit: 3 }), [ids.slice(0, 3), ids.slice(3, 6), ids.slice(6)]);
    assert.deepEqual(await pages(alice, { limit: 7 }), [ids], 'a full last page says there is no more');
    const first = await alice.client.request('list_conversations', { limit: 2 });
    assert.equal(first.next, String(ids[1]));
    const whole = await alice.client.request('get_conversations');
    assert.deepEqual(first.conversations, whole.slice(0, 2), 'the same items as get_conversations');
    assert.deepEqual((await alice.client.request('list_conversations')).conversations.length, 7, 'default limit 100');
  });

  await t.test('pages by activity: the newest message you can see, else the creation', async () => {
    await bob.client.request('send_message', { conversation_id: ids[2]!, content: 'older' });
    await bob.client.request('send_message', { conversation_id: ids[5]!, content: 'newer' });
    const recent = (await alice.client.request('get_conversations', { sort: 'recent' })).map((item) => item.id);
    assert.deepEqual(recent.slice(0, 2), [ids[5], ids[2]]);
    assert.deepEqual((await pages(alice, { sort: 'recent', limit: 2 })).flat(), recent);
    assert.deepEqual((await pages(alice, { sort: 'recent', limit: 3 })).map((page) => page.length), [3, 3, 1]);
    // A message after the page was read moves its conversation ahead; the next page does not repeat what came before the cursor.
    const first = await alice.client.request('list_conversations', { sort: 'recent', limit: 2 });
    await bob.client.request('send_message', { conversation_id: ids[0]!, content: 'newest' });
    const second = await alice.client.request('list_conversations', { sort: 'recent', limit: 10, after: first.next });
    assert.deepEqual(second.conversations.map((item) => item.id), recent.slice(2).filter((id) => id !== ids[0]));
  });

  await t.test('filters page too', async () => {
    for (const id of [ids[1]!, ids[4]!, ids[6]!]) await alice.client.request('set_favorite', { conversation_id: id, favorite: true });
    assert.deepEqual(await pages(alice, { filter: 'favorites', limit: 2 }), [[ids[1], ids[4]], [ids[6]]]);
    assert.deepEqual(await pages(alice, { filter: 'pinned', limit: 2 }), [[]]);
  });

  await t.test('a cursor of another order, garbage, or a limit out of range is refused', async () => {
    const text = 'after must be the next of an earlier page of the same list';
    await expectError(alice.client, { type: 'list_conversations', sort: 'recent', after: String(ids[0]) }, text, 'bad_request');
    await expectError(alice.client, { type: 'list_conversations', after: '1.2.3' }, text, 'bad_request');
    await expectError(alice.client, { type: 'list_conversations', after: '-1' }, text, 'bad_request');
    await expectError(alice.client, { type: 'list_conversations', after: 5 }, 'after must be a string: the next of the previous page', 'bad_request');
    await expectError(alice.client, { type: 'list_conversations', limit: 0 }, 'limit must be a whole number from 1 to 500', 'bad_request');
    await expectError(alice.client, { type: 'list_conversations', limit: 501 }, 'limit must be a whole number from 1 to 500', 'bad_request');
  });

  await t.test('get_conversations, the seed\'s event, answers the first 500; list_conversations reaches the rest', async () => {
    const busy = await person(server, 'busy');
    const made: number[] = [];
    for (let i = 0; i < 502; i++) made.push((await busy.client.request('create_conversation', { name: `c${i}`, members: [] })).id);
    const listed = await busy.client.request('get_conversations');
    assert.deepEqual(listed.map((item) => item.id), made.slice(0, 500));
    const last = await busy.client.request('list_conversations', { after: String(made[499]) });
    assert.deepEqual([last.conversations.map((item) => item.id), last.next], [made.slice(500), null]);
    assert.equal((await busy.client.request('get_conversations', { sort: 'recent' }))[0]!.id, made[501], 'the newest first');
  });
});
