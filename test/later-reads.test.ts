// Listings and catch-up read after the commit (review 25, H1): get_conversations, list_conversations,
// list_channels, get_contacts, get_blocked, get_banned, get_members, search_users, sync, get_messages and
// get_files run away from the queue of work every frame waits in, so a long one no longer holds another
// user's ping or send; their replies are what they were, and listings count as several events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { person, socket, type Person } from './helpers/clients.ts';
import { engineEnv, testEngine } from './helpers/postgres.ts';
import { startPgProxy, type PgProxy } from './helpers/pg-proxy.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './helpers/wait.ts';

/** 500 conversations of Alice's with a message from Bob in each: a full get_conversations reads 1,500 rows one by one. */
async function crowded(alice: Person, bob: Person): Promise<number[]> {
  const ids = await Promise.all(Array.from({ length: 500 }, (_, i) => alice.client.request('create_conversation', { name: `room ${i}`, members: [bob.username] }).then(({ id }) => id)));
  await Promise.all(ids.map((id, i) => bob.client.request('send_message', { conversation_id: id, content: `hello ${i}` })));
  return ids;
}

/**
 * Alice's long read, and meanwhile Bob's pings and sends on his own socket, each sent once the one before
 * is answered, five times: how many of Bob's were answered before Alice's read, each round. Before, every
 * frame waited in one queue and the read ran in it: Bob's frames sent after it were answered after it (his
 * first at most, when it overtook hers on the way in), so at most one.
 *
 * On PostgreSQL the read is held open for certain: the server reaches its database through a proxy that
 * stops the read's connection at the statement `held` matches until Bob's four frames are answered (a read
 * of 500 rows there can take less time than two of Bob's sends). On SQLite the read runs on a reader thread
 * that nothing outside can stop: it is long (500 conversations read one by one) against Bob's frames.
 */
async function race(alice: Person, bob: Person, conversation: number, read: () => Promise<unknown>, hold?: { proxy: PgProxy; held: (statement: string) => boolean }): Promise<number[]> {
  const counts: number[] = [];
  for (let round = 0; round < 5; round++) {
    let done = false;
    hold?.proxy.holdAt(hold.held);
    const long = read().then(() => {
      done = true;
    });
    if (hold) await hold.proxy.held();
    let answered = 0;
    for (let i = 0; !done && i < (hold ? 4 : 50); i++) {
      const frame = i % 2 ? bob.client.request('send_message', { conversation_id: conversation, content: `round ${round}, ${i}` }) : bob.client.request('ping');
      // A frame stuck behind the held read (it was read in the queue of work) counts as unanswered instead of hanging the test.
      if (!(await Promise.race([frame.then(() => true), sleep(10_000).then(() => false)]))) break;
      if (!done) answered++;
    }
    hold?.proxy.release();
    await long;
    counts.push(answered);
  }
  return counts;
}

test('a long get_conversations or sync holds no other user\'s ping or send, and answers as before', async (t) => {
  // On PostgreSQL, through a proxy that can hold the read open (the server's database made here, as startServer would).
  const home = mkdtempSync(join(tmpdir(), 'parley-test-'));
  const proxy = testEngine() === 'postgres' ? await startPgProxy(t, (await engineEnv(home)).DATABASE_URL!) : undefined;
  const server = await startServer(t, proxy ? { DATABASE_URL: proxy.url } : {}, home);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const ids = await crowded(alice, bob);
  const { id: bobs } = await bob.client.request('create_conversation', { name: 'bob alone', members: [] });

  await t.test('another user is answered while the read runs', async () => {
    // The statements that read the page's unread counts and last messages, and the events sync returns.
    const listing = await race(alice, bob, bobs, () => alice.client.request('get_conversations'), proxy && { proxy, held: (statement) => statement.includes('AS last_id') });
    const catchUp = await race(alice, bob, bobs, () => alice.client.request('sync', { since: 0, limit: 500 }), proxy && { proxy, held: (statement) => statement.includes(') AS visible') });
    if (proxy) {
      assert.deepEqual(listing, [4, 4, 4, 4, 4], 'all of Bob\'s pings and sends answered while get_conversations was held, each round');
      assert.deepEqual(catchUp, [4, 4, 4, 4, 4], 'all of Bob\'s pings and sends answered while sync was held, each round');
    } else {
      assert.ok(Math.max(...listing) >= 2, `Bob's pings and sends answered while get_conversations ran, each round: ${listing.join(', ')}`);
      assert.ok(Math.max(...catchUp) >= 2, `Bob's pings and sends answered while sync ran, each round: ${catchUp.join(', ')}`);
    }
  });

  await t.test('contacts, blocks, bans, members and people found are read the same way', async () => {
    const [carl, dave] = [await person(server, 'carl'), await person(server, 'dave')];
    await alice.client.request('add_contact', { contact_username: bob.username });
    const { blocked_at } = await alice.client.request('block_user', { username: carl.username });
    const { id: group } = await alice.client.request('create_conversation', { name: 'with a ban', members: [bob.username, dave.username] });
    const banned = await alice.client.request('ban_member', { conversation_id: group, username: dave.username });
    // Each read's statement, where the proxy holds it on PostgreSQL.
    const reads = [
      ['contacts.rowid AS place', () => alice.client.request('get_contacts')],
      ['blocks.blocked_at, blocks.blocked_id FROM blocks', () => alice.client.request('get_blocked')],
      ['FROM bans JOIN users', () => alice.client.request('get_banned', { conversation_id: group })],
      ['SELECT members.user_id, users.username, users.fullname, users.status', () => alice.client.request('get_members', { conversation_id: group })],
      ['AS by_fullname', () => alice.client.request('search_users', { query: bob.username })],
    ] as const;
    // On SQLite these reads of a few rows are too short to race against; what they answer is checked below.
    if (proxy) {
      for (const [statement, read] of reads) {
        assert.deepEqual(await race(alice, bob, bobs, read, { proxy, held: (text) => text.includes(statement) }), [4, 4, 4, 4, 4], statement);
      }
    }
    const [contacts, blocked, bans, members, found] = await Promise.all([reads[0][1](), reads[1][1](), reads[2][1](), reads[3][1](), reads[4][1]()]);
    assert.deepEqual([contacts.contacts.map((user) => [user.username, user.is_online]), contacts.next], [[[bob.username, true]], null]);
    assert.deepEqual(blocked, { blocked: [{ username: carl.username, fullname: `Full ${carl.username}`, blocked_at }], next: null });
    assert.deepEqual(bans.banned.map(({ username, banned_by }) => [username, banned_by]), [[dave.username, alice.username]]);
    assert.equal(banned.username, dave.username);
    assert.deepEqual(members.map((member) => [member.username, member.role, member.is_online]), [[alice.username, 'owner', true], [bob.username, 'member', true]]);
    assert.deepEqual([found.users.map((user) => [user.username, user.is_online]), found.next], [[[bob.username, true]], null]);
  });

  await t.test('unread counts: your own message just sent counts as read before its receipt is written', async () => {
    await bob.client.request('send_message', { conversation_id: ids[0]!, content: 'one more' });
    await alice.client.request('send_message', { conversation_id: ids[1]!, content: 'my answer' });
    const items = await alice.client.request('get_conversations');
    assert.equal(items.length, 500);
    assert.deepEqual(items.slice(0, 3).map((item) => [item.id, item.unread_count, item.last_message?.content]), [
      [ids[0], 2, 'one more'],
      [ids[1], 0, 'my answer'],
      [ids[2], 1, 'hello 2'],
    ]);
  });

  await t.test('sync answers what the log held when it was asked; what the socket sends after it is not in it', async () => {
    const send = (content: string) => alice.client.call({ type: 'send_message', conversation_id: ids[3]!, content }) as Promise<{ seq: number; data: { id: number } }>;
    const before = await send('before the sync');
    const asked = alice.client.request('sync', { since: before.seq - 1, limit: 500 });
    const after = send('after the sync');
    const [page, sent] = [await asked, await after];
    const seqs = page.events.map((event) => event.seq);
    // Receipts may be logged in between: the page is every event from the message on, up to the log's end when it was asked.
    assert.deepEqual([page.events[0]!.type, (page.events[0]!.data as { id: number }).id, seqs[0]], ['send_message', before.data.id, before.seq]);
    assert.ok(seqs.every((seq) => seq < sent.seq), `the message sent after the sync is in its page: ${seqs.join(', ')}, sent ${sent.seq}`);
    assert.deepEqual([page.next, page.has_more, page.reset], [seqs.at(-1), false, false]);
  });

  await t.test('a socket\'s reads are answered in the order it asked, and 24 at once wait their turn rather than being refused', async () => {
    const asked = ['get_conversations', 'sync', 'get_messages', 'get_files', 'list_conversations', 'list_channels'] as const;
    const frames = Array.from({ length: 24 }, (_, i) => {
      const type = asked[i % asked.length]!;
      const fields = type === 'sync' ? { since: 0 } : type === 'get_messages' || type === 'get_files' ? { conversation_id: ids[i]! } : {};
      return { type, ...fields };
    });
    const answered: number[] = [];
    const replies = await Promise.all(frames.map((frame, i) => alice.client.call(frame).then((reply) => {
      answered.push(i);
      return reply;
    })));
    assert.deepEqual(replies.filter((reply) => !reply.success), [], 'none refused');
    assert.deepEqual(answered, frames.map((_, i) => i));
    assert.deepEqual(replies.map((reply) => reply.type), frames.map((frame) => frame.type));
  });
});

test('listings of contacts, blocks, bans, members and people count as 2 events against the socket\'s rate limit', async (t) => {
  const server = await startServer(t, { RATE_LIMIT_EVENTS: '1', RATE_LIMIT_BURST: '10' });
  const alice = await person(server, 'alice');
  const { id } = await alice.client.request('create_conversation', { name: 'mine', members: [] });
  const frames = [
    { type: 'get_contacts' }, { type: 'get_blocked' }, { type: 'get_banned', conversation_id: id }, { type: 'get_members', conversation_id: id }, { type: 'search_users', query: 'alice' },
  ];
  for (const frame of frames) {
    // A fresh socket holds 10 tokens, and its first ping spent one: four listings spend 8, the fifth finds 1.
    const { client } = await socket(server, alice.token);
    const replies = await Promise.all(Array.from({ length: 5 }, () => client.call(frame)));
    assert.deepEqual(replies.map((reply) => reply.success), [true, true, true, true, false], frame.type);
    const { ref: _, ...refused } = replies[4]!;
    assert.deepEqual(refused, { type: frame.type, success: false, error: `rate limit: ${frame.type} counts as 2 events, at most 1 events a second (bursts of 10); slow down`, code: 'rate_limited' });
  }
});
