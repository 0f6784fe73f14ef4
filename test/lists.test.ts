// Contacts, blocks and bans when there are many (issue 25): get_contacts, get_blocked and get_banned page
// with `after` and `limit` and answer `next`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { expectError, person, rawSocket, type Person } from './helpers/clients.ts';
import type { Client } from '../protocol/client.ts';

type Page = { items: string[]; next: string | null };
type Lister = (after: string | null) => Promise<Page>;

/** Walks every page from the first, as a client does: the usernames of each page. */
async function walk(list: Lister): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | null = null;
  do {
    const page: Page = await list(after);
    assert.ok(page.next === null || typeof page.next === 'string', `next is a cursor or null, not ${page.next}`);
    assert.ok(pages.length < 100, 'the pages come to an end');
    pages.push(page.items);
    after = page.next;
  } while (after !== null);
  return pages;
}

const contacts = (client: Client, limit?: number): Lister => async (after) => {
  const page = await client.request('get_contacts', { after, limit });
  return { items: page.contacts.map((contact) => contact.username), next: page.next };
};
const blocked = (client: Client, limit?: number): Lister => async (after) => {
  const page = await client.request('get_blocked', { after, limit });
  return { items: page.blocked.map((entry) => entry.username), next: page.next };
};
const banned = (client: Client, conversationId: number, limit?: number): Lister => async (after) => {
  const page = await client.request('get_banned', { conversation_id: conversationId, after, limit });
  return { items: page.banned.map((entry) => entry.username), next: page.next };
};

test('get_contacts, get_blocked and get_banned page through the whole list, each entry once, in order', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const people: Person[] = [];
  for (let i = 0; i < 6; i++) people.push(await person(server, `p${i}`));
  const names = people.map((who) => who.username);

  await t.test('get_contacts: in the order added, whoever added whom', async () => {
    for (const who of people.slice(0, 4)) await alice.client.request('add_contact', { contact_username: who.username });
    for (const who of people.slice(4)) await who.client.request('add_contact', { contact_username: alice.username });
    assert.deepEqual(await walk(contacts(alice.client, 4)), [names.slice(0, 4), names.slice(4)]);
    assert.deepEqual(await walk(contacts(alice.client, 1)), names.map((name) => [name]));
    assert.deepEqual(await walk(contacts(alice.client, 6)), [names], 'a full last page says there is no more');
    assert.deepEqual(await walk(contacts(alice.client)), [names], `without limit, up to 500`);
    const first = await alice.client.request('get_contacts', { limit: 2 });
    assert.equal(first.message, 'got all the contacts');
    const whole = await alice.client.request('get_contacts');
    assert.deepEqual(first.contacts, whole.contacts.slice(0, 2), 'the same entries as the whole list');
    // Keyset pages: removing the entry a page ended at does not move the next page.
    await alice.client.request('remove_contact', { contact_username: names[1]! });
    assert.deepEqual((await alice.client.request('get_contacts', { after: first.next })).contacts.map((contact) => contact.username), names.slice(2));
  });

  await t.test('get_contacts as the seed\'s clients ask: no paging fields, the seed\'s shape and more', async () => {
    const raw = await rawSocket(server, alice.token);
    const reply = (await raw.exchange(JSON.stringify({ type: 'get_contacts' }))) as { type: string; success: boolean; data: { message: string; contacts: Record<string, unknown>[]; next: null } };
    assert.deepEqual([reply.type, reply.success, reply.data.message, reply.data.next], ['get_contacts', true, 'got all the contacts', null]);
    assert.deepEqual(reply.data.contacts.map((contact) => contact.username), [names[0], ...names.slice(2)]);
    for (const contact of reply.data.contacts) {
      assert.deepEqual([typeof contact.fullname, typeof contact.is_online, typeof contact.last_online, typeof contact.created_at], ['string', 'boolean', 'number', 'number']);
    }
    raw.close();
  });

  await t.test('get_blocked: most recent first', async () => {
    for (const name of names) await alice.client.request('block_user', { username: name });
    const newestFirst = [...names].reverse();
    assert.deepEqual(await walk(blocked(alice.client, 4)), [newestFirst.slice(0, 4), newestFirst.slice(4)]);
    assert.deepEqual(await walk(blocked(alice.client)), [newestFirst], 'default 100');
    const first = await alice.client.request('get_blocked', { limit: 2 });
    assert.deepEqual(first.blocked.map(({ blocked_at: _, ...entry }) => entry), newestFirst.slice(0, 2).map((username) => ({ username, fullname: `Full ${username}` })));
    await alice.client.request('unblock_user', { username: newestFirst[1]! });
    assert.deepEqual((await alice.client.request('get_blocked', { after: first.next })).blocked.map((entry) => entry.username), newestFirst.slice(2));
    await alice.client.request('block_user', { username: newestFirst[1]! });
  });

  await t.test('get_banned: longest banned first', async () => {
    const channel = await alice.client.request('create_conversation', { kind: 'channel', name: 'crowded', members: [] });
    for (const name of names) await alice.client.request('ban_member', { conversation_id: channel.id, username: name });
    assert.deepEqual(await walk(banned(alice.client, channel.id, 4)), [names.slice(0, 4), names.slice(4)]);
    assert.deepEqual(await walk(banned(alice.client, channel.id)), [names], 'default 100');
    const first = await alice.client.request('get_banned', { conversation_id: channel.id, limit: 2 });
    assert.deepEqual(first.banned.map(({ banned_at: _, ...entry }) => entry), names.slice(0, 2).map((username) => ({ username, fullname: `Full ${username}`, banned_by: alice.username })));
    await alice.client.request('unban_member', { conversation_id: channel.id, username: names[1]! });
    assert.deepEqual((await alice.client.request('get_banned', { conversation_id: channel.id, after: first.next })).banned.map((entry) => entry.username), names.slice(2));
  });

  await t.test('a limit out of range, an after of the wrong type or shape: refused, each with its own words', async () => {
    const member = await person(server, 'member');
    const channel = await alice.client.request('create_conversation', { kind: 'channel', name: 'checks', members: [member.username] });
    const frames = [{ type: 'get_contacts' }, { type: 'get_blocked' }, { type: 'get_banned', conversation_id: channel.id }];
    for (const frame of frames) {
      for (const limit of [0, 501, 2.5, '10']) await expectError(alice.client, { ...frame, limit }, 'limit must be a whole number from 1 to 500', 'bad_request');
      await expectError(alice.client, { ...frame, after: 7 }, 'after must be a string: the next of the previous page', 'bad_request');
      for (const after of ['', 'x', '-1', '1.', '1.2.3', '12345678901234567']) await expectError(alice.client, { ...frame, after }, 'after must be the next of an earlier page of the same list', 'bad_request');
    }
    await expectError(alice.client, { type: 'get_contacts', after: '1.2' }, 'after must be the next of an earlier page of the same list', 'bad_request');
    await expectError(alice.client, { type: 'get_blocked', after: '1' }, 'after must be the next of an earlier page of the same list', 'bad_request');
    await expectError(member.client, { type: 'get_banned', conversation_id: channel.id, after: 'x' }, `only the owner or an admin of conversation ${channel.id} can see who is banned`, 'forbidden');
  });
});
