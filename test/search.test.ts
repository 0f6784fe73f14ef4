// Message search: words, prefixes and phrases over what the caller can still see, with safe snippets.
import { test } from 'node:test';
import { withStore } from './helpers/store.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import { connect, expectError, person } from './helpers/clients.ts';

test('search_messages', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const eve = await person(server, 'eve');
  const room = await alice.client.request('create_conversation', { name: 'kitchen', members: [bob.username] });
  const other = await alice.client.request('create_conversation', { name: 'garden', members: [bob.username] });
  const secret = await eve.client.request('create_conversation', { name: 'eve only', members: [] });
  const say = async (conversationId: number, content: string) => (await alice.client.request('send_message', { conversation_id: conversationId, content })).id;
  const soup = await say(room.id, 'The Soup is ready <b>now</b>');
  const crepe = await say(room.id, 'Crêpes for dessert');
  const garden = await say(other.id, 'the tomato soup from the garden');
  const souper = await say(room.id, 'souper time, says the French');
  await eve.client.request('send_message', { conversation_id: secret.id, content: 'soup for eve alone' });
  const ids = async (query: string, extra: Record<string, unknown> = {}) =>
    (await bob.client.request('search_messages', { query, ...extra })).messages.map((message) => message.id);

  await t.test('words, prefixes and phrases; case and accents ignored; newest first', async () => {
    assert.deepEqual(await ids('soup'), [garden, soup], 'whole words, only where the caller is a member');
    assert.deepEqual(await ids('SOUP*'), [souper, garden, soup], 'a prefix');
    assert.deepEqual(await ids('crepes'), [crepe], 'accents ignored');
    assert.deepEqual(await ids('"tomato soup"'), [garden], 'a phrase');
    assert.deepEqual(await ids('"soup tomato"'), [], 'a phrase keeps its order');
    assert.deepEqual(await ids('soup garden'), [garden], 'every word must match');
    assert.deepEqual(await ids('soup', { conversation_id: room.id }), [soup], 'one conversation');
    const page = await bob.client.request('search_messages', { query: 'soup*', limit: 2 });
    assert.deepEqual([page.messages.map((message) => message.id), page.has_more], [[souper, garden], true]);
    const next = await bob.client.request('search_messages', { query: 'soup*', limit: 2, before: garden });
    assert.deepEqual([next.messages.map((message) => message.id), next.has_more], [[soup], false]);
  });

  await t.test('hits are whole messages with an escaped, highlighted snippet', async () => {
    const [hit] = (await bob.client.request('search_messages', { query: 'ready' })).messages;
    assert.equal(hit!.snippet, 'The Soup is <mark>ready</mark> &lt;b&gt;now&lt;/b&gt;');
    assert.deepEqual([hit!.id, hit!.conversation_id, hit!.content, hit!.sender_username], [soup, room.id, 'The Soup is ready <b>now</b>', alice.username]);
    // A long message: a window of words around the hit, with … where the text was cut, on either engine.
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`);
    words[30] = 'zeppelin';
    await alice.client.request('send_message', { conversation_id: room.id, content: words.join(' ') });
    const [long] = (await bob.client.request('search_messages', { query: 'zeppelin' })).messages;
    assert.match(long!.snippet, /^….* <mark>zeppelin<\/mark> .*…$/);
    assert.ok(long!.snippet.split(' ').length <= 20, long!.snippet);
    await alice.client.request('delete_message', { message_id: long!.id });
  });

  await t.test('malformed or hostile queries answer bad_request, never an SQL error', async () => {
    await expectError(bob.client, { type: 'search_messages', query: '"soup' }, 'search query: a quote is not closed', 'bad_request');
    for (const query of ['', '   ', '***', '!!! ???', '""']) {
      await expectError(bob.client, { type: 'search_messages', query }, 'search query: give at least one word or number', 'bad_request');
    }
    await expectError(bob.client, { type: 'search_messages', query: Array.from({ length: 21 }, (_, i) => `w${i}`).join(' ') }, 'search query: at most 20 words and phrases', 'bad_request');
    await expectError(bob.client, { type: 'search_messages', query: 'x'.repeat(201) }, 'query may be at most 200 characters', 'bad_request');
    await expectError(bob.client, { type: 'search_messages', query: 5 }, 'query must be a string', 'bad_request');
    for (const query of ['soup OR eve', 'content:soup', 'NEAR(soup eve)', 'soup AND NOT x', '^soup', 'soup -tomato', '(soup', "soup' --", 'soup*)']) {
      const reply = await bob.client.call({ type: 'search_messages', query });
      assert.equal(reply.success, true, `${query}: ${JSON.stringify(reply)}`);
      for (const message of (reply as { data: { messages: { conversation_id: number }[] } }).data.messages) {
        assert.notEqual(message.conversation_id, secret.id, `${query} must not reach eve's conversation`);
      }
    }
    await expectError(bob.client, { type: 'search_messages', query: 'soup', conversation_id: secret.id }, `${bob.username} not part of conversation with ${secret.id} id`, 'not_found');
  });

  await t.test('edits are found by their new words only, whether or not the message was indexed yet', async () => {
    const fresh = await say(room.id, 'alpha draft');
    await alice.client.request('edit_message', { message_id: fresh, content: 'beta draft' }); // before any search indexed it
    assert.deepEqual([await ids('alpha'), await ids('beta')], [[], [fresh]]);
    await alice.client.request('edit_message', { message_id: fresh, content: 'gamma draft' }); // now it is in the index
    assert.deepEqual([await ids('beta'), await ids('gamma')], [[], [fresh]]);
    const doomed = await say(room.id, 'delta unseen');
    await alice.client.request('delete_message', { message_id: doomed }); // deleted before it was indexed
    assert.deepEqual(await ids('delta'), []);
    assert.deepEqual(await ids('draft'), [fresh], 'the index is intact');
  });

  await t.test('deleted and cleared messages are not found', async () => {
    await alice.client.request('delete_message', { message_id: garden });
    assert.deepEqual(await ids('tomato'), []);
    await bob.client.request('clear_chat', { conversation_id: room.id });
    assert.deepEqual(await ids('soup*'), [], 'cleared for bob');
    assert.deepEqual((await alice.client.request('search_messages', { query: 'soup*' })).messages.map((message) => message.id), [souper, soup], 'not for alice');
  });
});

test('one search examines a bounded number of matches, and pages on from where it stopped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-search-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startServer(t, {}, dir);
  const reader = await person(first, 'reader');
  const writer = await person(first, 'writer');
  const mine = await reader.client.request('create_conversation', { name: 'mine', members: [] });
  const theirs = await writer.client.request('create_conversation', { name: 'theirs', members: [] });
  const hidden = await reader.client.request('send_message', { conversation_id: mine.id, content: 'the needle, under a haystack' });
  await writer.client.request('send_message', { conversation_id: theirs.id, content: 'a needle the reader cannot see' });
  await first.stop();
  // 3,000 newer matches in a conversation the reader is not in, written straight into the database.
  await withStore(first, async ({ driver }) => {
    const insert = driver.prepare('INSERT INTO messages (conversation_id, sender_id, content, sent_at) VALUES ($1, (SELECT id FROM users WHERE username = $2), $3, 1)');
    for (let i = 0; i < 3000; i++) await insert.run(theirs.id, writer.username, `needle number ${i}`);
  });

  const server = await startServer(t, {}, dir);
  const client = await connect(server, reader.token);
  const firstPage = await client.request('search_messages', { query: 'needle' });
  assert.deepEqual([firstPage.messages, firstPage.has_more], [[], true], 'the budget ran out among matches the reader may not see');
  assert.ok(firstPage.next !== null && firstPage.next > hidden.id);
  let page = firstPage;
  const found: number[] = [];
  for (let round = 0; page.has_more && round < 10; round++) {
    page = await client.request('search_messages', { query: 'needle', before: page.next });
    found.push(...page.messages.map((message) => message.id));
  }
  assert.deepEqual([found, page.has_more, page.next], [[hidden.id], false, null], 'paging on finds it, then says there is no more');
});

test('a search reads after its unit is committed, away from the queue of work: a later frame is answered while it runs, and it sees what its caller sent before', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const { id } = await alice.client.request('create_conversation', { name: 'orchard', members: [] });
  // Every message matches: each search examines its full budget of 2,000 matches and snippets a page.
  await Promise.all(Array.from({ length: 2100 }, (_, i) => alice.client.request('send_message', { conversation_id: id, content: `apple ${i} applesauce` })));

  // What the caller sent just before is found, though the search reads elsewhere than the unit that sent it.
  const sent = alice.client.request('send_message', { conversation_id: id, content: 'a fresh pear' });
  const found = await alice.client.request('search_messages', { query: 'pear' });
  assert.deepEqual(found.messages.map((message) => message.id), [(await sent).id]);

  // A search and then a ping on the same socket: the search's unit only catches the index up; its read
  // runs after the commit, so the ping is answered while it runs. Before, replies came in frame order
  // (the search ran in the queue every frame waits in), so the ping was never first.
  const firsts: string[] = [];
  for (let round = 0; round < 5; round++) {
    const order: string[] = [];
    await Promise.all([
      alice.client.request('search_messages', { query: 'apple*', limit: 100 }).then(() => order.push('search')),
      alice.client.request('ping').then(() => order.push('ping')),
    ]);
    firsts.push(order[0]!);
  }
  assert.ok(firsts.includes('ping'), `the search was answered first every time: ${firsts.join(', ')}`);

  // Their time is charged as they finish: one account has at most two under way, the rest are refused at once.
  const replies = await Promise.all(Array.from({ length: 20 }, () => alice.client.call({ type: 'search_messages', query: 'apple*', limit: 100 })));
  const refused = replies.filter((reply) => !reply.success);
  assert.ok(refused.length > 0, 'twenty searches sent at once all ran');
  for (const { ref: _, ...reply } of refused) {
    assert.deepEqual(reply, { type: 'search_messages', success: false, error: 'rate limit: at most 2 of your searches may run at once: wait for an answer before sending more', code: 'rate_limited' });
  }
});
