// Contacts, blocks and bans when there are many (issue 25): get_contacts, get_blocked and get_banned page
// with `after` and `limit` and answer `next`, and each list has a cap, since some are grown by others;
// search_users among many people looks at a bounded number of them a request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import { connect, expectError, person, rawSocket, type Person } from './helpers/clients.ts';
import { withStore } from './helpers/store.ts';
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

/** Splits a list into pages of `size`. */
const chunks = (list: string[], size: number) => Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));

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

test('caps: 5,000 contacts an account, 10,000 blocks an account, 10,000 bans a conversation; full lists page to the end', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-lists-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startServer(t, {}, dir);
  const full = await person(first, 'full');
  const alice = await person(first, 'alice');
  const blocker = await person(first, 'blocker');
  const owner = await person(first, 'owner');
  const channel = await owner.client.request('create_conversation', { kind: 'channel', name: 'raided', members: [] });
  await first.stop();
  // 10,000 people and their rows, written straight into the database: through the protocol this would take hours.
  const fillers = await withStore(first, async ({ driver }) => {
    await driver.prepare(`WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
      INSERT INTO users (username, fullname, password_hash, created_at, last_online) SELECT 'filler_' || i, 'Filler', 'x', 1, 1 FROM n`).run();
    const id = (username: string) => `(SELECT id FROM users WHERE username = '${username}')`;
    await driver.prepare(`INSERT INTO contacts (user_id, contact_id, added_at, chosen) SELECT ${id(full.username)}, users.id, 1, 0 FROM users WHERE fullname = 'Filler' ORDER BY users.id LIMIT 5000`).run();
    await driver.prepare(`INSERT INTO blocks (user_id, blocked_id, blocked_at) SELECT ${id(blocker.username)}, id, 1 FROM users WHERE fullname = 'Filler'`).run();
    await driver.prepare(`INSERT INTO bans (conversation_id, user_id, banned_by, banned_at) SELECT $1, id, ${id(owner.username)}, 1 FROM users WHERE fullname = 'Filler'`).run(channel.id);
    return driver.prepare(`SELECT username FROM users WHERE fullname = 'Filler' ORDER BY id`).values<string>();
  });
  assert.equal(fillers.length, 10000);

  const server = await startServer(t, {}, dir);
  const fullClient = await connect(server, full.token);
  const aliceClient = await connect(server, alice.token);
  const blockerClient = await connect(server, blocker.token);
  const ownerClient = await connect(server, owner.token);
  const newcomer = await person(server, 'newcomer');

  await t.test('contacts: the seed\'s request answers the first 500; pages of 500 reach the rest; adding past 5,000 is refused on either side', async () => {
    const seedStyle = await fullClient.request('get_contacts');
    assert.deepEqual(seedStyle.contacts.map((contact) => contact.username), fillers.slice(0, 500));
    assert.notEqual(seedStyle.next, null);
    assert.deepEqual(await walk(contacts(fullClient, 500)), chunks(fillers.slice(0, 5000), 500));
    await expectError(aliceClient, { type: 'add_contact', contact_username: full.username }, `'${full.username}' has 5000 contacts, as many as an account may have`, 'conflict');
    await expectError(fullClient, { type: 'add_contact', contact_username: alice.username }, 'at most 5000 contacts per account: remove one first', 'bad_request');
    await fullClient.request('remove_contact', { contact_username: fillers[0]! });
    await aliceClient.request('add_contact', { contact_username: full.username });
    await expectError(fullClient, { type: 'add_contact', contact_username: newcomer.username }, 'at most 5000 contacts per account: remove one first', 'bad_request');
    assert.deepEqual((await fullClient.request('get_contacts', { after: seedStyle.next, limit: 500 })).contacts[0]!.username, fillers[500]);
  });

  await t.test('blocks: 10,000 page to the end, newest first (ties by the latest account); one more is refused', async () => {
    assert.deepEqual(await walk(blocked(blockerClient, 500)), chunks([...fillers].reverse(), 500));
    await expectError(blockerClient, { type: 'block_user', username: newcomer.username }, 'at most 10000 blocked people per account: unblock one first', 'bad_request');
    const again = await blockerClient.request('block_user', { username: fillers[0]!, leave_conversations: true });
    assert.deepEqual([again.username, again.blocked_at, again.left], [fillers[0], 1, []], 'someone blocked already is no new block');
    await blockerClient.request('unblock_user', { username: fillers[0]! });
    await blockerClient.request('block_user', { username: newcomer.username });
    assert.equal((await blockerClient.request('get_blocked', { limit: 1 })).blocked[0]!.username, newcomer.username);
  });

  await t.test('bans: 10,000 page to the end, oldest first; one more is refused', async () => {
    assert.deepEqual(await walk(banned(ownerClient, channel.id, 500)), chunks(fillers, 500));
    await expectError(ownerClient, { type: 'ban_member', conversation_id: channel.id, username: newcomer.username }, 'at most 10000 people may be banned from one conversation: unban one first', 'bad_request');
    await ownerClient.request('unban_member', { conversation_id: channel.id, username: fillers[0]! });
    await ownerClient.request('ban_member', { conversation_id: channel.id, username: newcomer.username });
    const last = await ownerClient.request('get_banned', { conversation_id: channel.id, after: null, limit: 500 });
    assert.equal(last.banned[0]!.username, fillers[1]);
  });
});

test('search_users among 20,000 people: a rare prefix is read from the names\' index ranges, one that many names start with looks at 1,000 people a request', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-people-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startServer(t, {}, dir);
  const searcher = await person(first, 'searcher');
  await first.stop();
  // p00001 … p20000, written straight into the database: every 13th is "Thin …", three are "Zqx Rare"; zqx_b blocked the searcher.
  const fill = (padded: string) => `WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
    INSERT INTO users (username, fullname, password_hash, created_at, last_online)
    SELECT 'p' || ${padded}, CASE WHEN i % 13 = 0 THEN 'Thin ' || i WHEN i IN (5, 7008, 19999) THEN 'Zqx Rare' ELSE 'Filler' END, 'x', 1, 1 FROM n`;
  await withStore(first, async ({ driver }) => {
    await driver.prepare({ sqlite: fill("substr('0000' || i, -5, 5)"), postgres: fill("lpad(CAST(i AS text), 5, '0')") }).run();
    await driver.prepare("INSERT INTO users (username, fullname, password_hash, created_at, last_online) VALUES ('zqx_a', 'Rare', 'x', 1, 1), ('zqx_b', 'Rare', 'x', 1, 1)").run();
    await driver.prepare("INSERT INTO blocks (user_id, blocked_id, blocked_at) SELECT (SELECT id FROM users WHERE username = 'zqx_b'), id, 1 FROM users WHERE username = $1").run(searcher.username);
  });
  const server = await startServer(t, {}, dir);
  const client = await connect(server, searcher.token);
  const people = (query: string, limit: number): Lister => async (after) => {
    const page = await client.request('search_users', { query, after, limit });
    return { items: page.users.map((user) => user.username), next: page.next };
  };
  const name = (i: number) => `p${String(i).padStart(5, '0')}`;

  assert.deepEqual(await walk(people('zqx', 2)), [[name(5), name(7008)], [name(19999), 'zqx_a']], 'by full name or username, in username order, but not who blocked the searcher');
  assert.deepEqual(await walk(people('ZQX RARE', 20)), [[name(5), name(7008), name(19999)]]);
  // 1,538 "Thin" people, one in 13: more than a request looks at, so it walks 1,000 usernames a page.
  const thin = Array.from({ length: 20000 }, (_, i) => i + 1).filter((i) => i % 13 === 0).map(name);
  const short = await client.request('search_users', { query: 'thin', limit: 100 });
  assert.deepEqual([short.users.map((user) => user.username), short.next], [thin.filter((username) => username <= name(1000)), name(1000)], 'a short page, ending at the 1,000th person looked at');
  const pages = await walk(people('thin', 100));
  assert.deepEqual(pages.flat(), thin, 'page after page to the end: each of them once, in order');
  assert.equal(pages.length, 21);
  const dense = await client.request('search_users', { query: 'P0', limit: 100 });
  assert.deepEqual([dense.users.length, dense.users[0]!.username, dense.next], [100, name(1), name(100)], 'where most match, a full page');
});
