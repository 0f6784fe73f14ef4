// Blocking as the person who blocks expects it: the blocked one cannot pull them into conversations, and
// nothing the blocked one does in a conversation they share reaches them (live, by sync, in history or search).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import { expectError, person, pushed, settle, socket, syncAll } from './helpers/clients.ts';
import { withStore } from './helpers/store.ts';
import { testEngine } from './helpers/postgres.ts';
import { sleep } from './helpers/wait.ts';

test('blocking', async (t) => {
  const server = await startServer(t);
  const olga = await person(server, 'olga'); // blocks kurt
  const kurt = await person(server, 'kurt');
  const carl = await person(server, 'carl'); // a friend of both
  const direct = await kurt.client.request('create_conversation', { kind: 'direct', members: [olga.username] });
  const shared = await carl.client.request('create_conversation', { name: 'book club', members: [olga.username, kurt.username] });
  const before = await kurt.client.request('send_message', { conversation_id: shared.id, content: 'before the block: findable' });
  await olga.client.request('block_user', { username: kurt.username });
  const since = (await olga.client.request('sync', { since: 0, limit: 500 })).next;
  await settle(olga.client, kurt.client, carl.client);
  olga.pushes.length = 0;

  await t.test('the blocked person cannot pull the blocker into a conversation, and to them the blocker is nobody', async () => {
    const nobody = `'${olga.username}' is not a valid username`;
    await expectError(kurt.client, { type: 'create_conversation', name: 'ambush', members: [olga.username, carl.username] }, nobody, 'not_found');
    await expectError(kurt.client, { type: 'create_conversation', kind: 'direct', members: [olga.username] }, nobody, 'not_found');
    const own = await kurt.client.request('create_conversation', { name: "kurt's", members: [carl.username] });
    await expectError(kurt.client, { type: 'add_members', conversation_id: own.id, members: [olga.username] }, nobody, 'not_found');
    await expectError(kurt.client, { type: 'get_user', username: olga.username }, `no such user '${olga.username}' exists`, 'not_found');
    // The blocker knows whom she blocked, and must unblock him first.
    await expectError(olga.client, { type: 'create_conversation', name: 'x', members: [kurt.username] }, `you blocked '${kurt.username}': unblock them first`, 'forbidden');
    const hers = await olga.client.request('create_conversation', { name: "olga's", members: [carl.username] });
    await expectError(olga.client, { type: 'add_members', conversation_id: hers.id, members: [kurt.username] }, `you blocked '${kurt.username}': unblock them first`, 'forbidden');
    await expectError(olga.client, { type: 'send_message', conversation_id: direct.id, content: 'hi' }, `you blocked '${kurt.username}': unblock them first`, 'forbidden');
    // A third person may still put them in the same room.
    await carl.client.request('create_conversation', { name: 'third party', members: [olga.username, kurt.username] });
  });

  await t.test('in a shared conversation the blocker is shown nothing the blocked person does', async () => {
    const message = await kurt.client.request('send_message', { conversation_id: shared.id, content: 'after the block: secret' });
    const carls = await carl.client.request('send_message', { conversation_id: shared.id, content: 'carl speaks' });
    await kurt.client.request('react', { message_id: carls.id, emoji: '👍' });
    await kurt.client.request('edit_message', { message_id: message.id, content: 'after the block: edited' });
    await kurt.client.request('typing', { conversation_id: shared.id, is_typing: true });
    await kurt.client.request('mark_read', { conversation_id: shared.id, message_id: carls.id });
    const unseen = await kurt.client.request('send_message', { conversation_id: direct.id, content: 'in the direct one' });
    await kurt.client.request('typing', { conversation_id: direct.id, is_typing: true });
    await sleep(700); // receipts go out after 0.5 s
    await settle(olga.client, kurt.client, carl.client);

    // Carl sees it all; olga sees carl's message and nothing of kurt's doing.
    assert.ok(pushed(carl.pushes, 'send_message').some((data) => data.id === message.id));
    assert.deepEqual(pushed(olga.pushes, 'send_message').map((data) => data.id), [carls.id]);
    for (const type of ['edit_message', 'react', 'typing'] as const) assert.deepEqual(pushed(olga.pushes, type), [], type);
    assert.ok(!pushed(olga.pushes, 'receipt').some((receipt) => receipt.username === kurt.username), 'nor his receipts');
    assert.ok(pushed(carl.pushes, 'typing').some((data) => data.username === kurt.username && data.is_typing));

    const history = await olga.client.request('get_messages', { conversation_id: shared.id });
    assert.deepEqual(history.messages.map((entry) => entry.content), ['carl speaks'], 'not in her history either, not even from before the block');
    assert.deepEqual((await olga.client.request('get_messages', { conversation_id: direct.id })).messages, []);
    assert.equal((await carl.client.request('get_messages', { conversation_id: shared.id })).messages.length, 3, 'carl has all three');
    assert.deepEqual((await olga.client.request('search_messages', { query: 'block' })).messages, [], 'nor in search');
    const listed = await olga.client.request('get_conversations');
    const shown = (id: number) => listed.filter((item) => item.id === id).map((item) => [item.unread_count, item.last_message?.content ?? null]);
    assert.deepEqual(shown(shared.id), [[1, 'carl speaks']], 'only carl counts as unread, and is the last message');
    assert.deepEqual(shown(direct.id), [[0, null]]);
    const about = (event: { data: unknown }) => [shared.id, direct.id].includes((event.data as { conversation_id?: number }).conversation_id ?? 0);
    const replayed = (await syncAll(olga.client, since)).filter((event) => about(event) && (event.type !== 'receipt' || (event.data as { username: string }).username === kurt.username));
    assert.deepEqual(replayed.map((event) => [event.type, (event.data as { id?: number }).id]), [['send_message', carls.id]], 'nor in sync');
    // The blocked person gets his replies as usual: he is not told he is blocked.
    assert.equal(unseen.content, 'in the direct one');
    assert.ok((await kurt.client.request('get_messages', { conversation_id: direct.id })).messages.some((entry) => entry.id === unseen.id));
    assert.ok(before.id < message.id);
  });

  await t.test('unblocking shows the history again', async () => {
    await olga.client.request('unblock_user', { username: kurt.username });
    const history = await olga.client.request('get_messages', { conversation_id: shared.id });
    assert.deepEqual(history.messages.map((entry) => entry.content), ['carl speaks', 'after the block: edited', 'before the block: findable']);
  });
});

test('a message from someone 100,000 people blocked costs a few lookups, not a read of every blocker', { skip: testEngine() === 'sqlite' ? false : "SQLite's plan: PostgreSQL's starts from the conversation's few members" }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-blockers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startServer(t, {}, dir);
  const alice = await person(first, 'alice'); // blocked by everyone written below, and by carol
  const bob = await person(first, 'bob');
  const carol = await person(first, 'carol');
  const { id } = await alice.client.request('create_conversation', { name: 'crowded out', members: [bob.username, carol.username] });
  await carol.client.request('block_user', { username: alice.username });
  await first.stop();
  // 100,000 people who blocked alice, written straight into the database.
  await withStore(first, async ({ driver }) => {
    await driver.prepare(`WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
      INSERT INTO users (username, fullname, password_hash, created_at, last_online) SELECT 'blocker_' || i, 'Blocker', 'x', 1, 1 FROM n`).run();
    await driver.prepare(`INSERT INTO blocks (user_id, blocked_id, blocked_at) SELECT id, (SELECT id FROM users WHERE username = $1), 1 FROM users WHERE fullname = 'Blocker'`).run(alice.username);
  });
  // Each unit of work is charged to its account: 20 ms of server time a second, 100 ms at once. Reading
  // every blocker of alice took milliseconds a message, so her sends were refused after a few.
  const server = await startServer(t, { RATE_LIMIT_WORK_MS: '20', RATE_LIMIT_WORK_BURST_MS: '100' }, dir);
  const [aliceNow, bobNow, carolNow] = await Promise.all([alice, bob, carol].map((who) => socket(server, who.token)));
  const replies = [];
  for (let i = 0; i < 40; i++) replies.push(await aliceNow!.client.call({ type: 'send_message', conversation_id: id, content: `message ${i}` }));
  assert.deepEqual(replies.filter((reply) => !reply.success), [], 'every send within its budget');
  await settle(aliceNow!.client, bobNow!.client, carolNow!.client);
  assert.equal(pushed(bobNow!.pushes, 'send_message').length, 40, 'bob gets them all');
  assert.deepEqual(pushed(carolNow!.pushes, 'send_message'), [], 'carol, who blocked alice, none');
});
