// Every seed event and envelope rule over a real socket: replies, every error string in check order, refs, codes.
import { test } from 'node:test';
import { onDatabase } from './helpers/store.ts';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { person, rawSocket, settle, uniqueName, register, type Person } from './helpers/clients.ts';
import { RequestError, type Client } from '../protocol/client.ts';
import type { ErrorCode } from '../protocol/index.ts';

/** Sends a frame and checks the exact error reply (its `ref` aside). */
async function rejects(client: Client, frame: Record<string, unknown>, error: string, code: ErrorCode = 'bad_request') {
  const { ref, ...reply } = await client.call(frame);
  assert.equal(typeof ref, 'number');
  assert.deepEqual(reply, { type: frame.type, success: false, error, code });
}

async function succeeds(client: Client, frame: Record<string, unknown>): Promise<unknown> {
  const { ref, ...reply } = await client.call(frame);
  assert.equal(typeof ref, 'number');
  assert.equal(reply.success, true, JSON.stringify(reply));
  assert.equal(reply.type, frame.type);
  return (reply as { data: unknown }).data;
}

test('seed events', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const carol = await person(server, 'carol');

  await t.test('frames that are not JSON objects get the root error', async () => {
    const raw = await rawSocket(server, alice.token);
    const invalid = { type: 'root', success: false, error: 'invalid json event', code: 'invalid_json' };
    for (const frame of ['not json', '{"type":', '[1,2]', '"ping"', '42', 'null', 'true', '']) assert.deepEqual(await raw.exchange(frame), invalid, frame);
    const noType = { type: 'root', success: false, error: 'no type field found in the event', code: 'unknown_type' };
    for (const frame of ['{}', '{"type":5}', '{"type":null}']) assert.deepEqual(await raw.exchange(frame), noType, frame);
    // The seed's text stays; `detail` says which type is unknown, and what it was probably meant to be.
    const unknown = {
      nope: 'unknown type "nope"',
      ['__proto__']: 'unknown type "__proto__"',
      constructor: 'unknown type "constructor"',
      toString: 'unknown type "toString"',
      PING: 'unknown type "PING": did you mean "ping"?',
      send_mesage: 'unknown type "send_mesage": did you mean "send_message"?',
      ['x'.repeat(100)]: `unknown type "${'x'.repeat(64)}…"`,
    };
    for (const [type, detail] of Object.entries(unknown)) {
      assert.deepEqual(await raw.exchange(JSON.stringify({ type })), { ...noType, detail }, type);
    }
    assert.deepEqual(await raw.exchange(Buffer.from('{"type":"ping"}')), {
      type: 'root',
      success: false,
      error: 'binary frames are not accepted: send each event as a JSON text frame',
      code: 'invalid_json',
    });
    assert.deepEqual(await raw.exchange('{"type":"ping"}'), { type: 'ping', success: true, data: 'pong' }, 'the socket lives on');
    raw.close();
  });

  await t.test('ref is echoed on successes and errors; a bad ref is refused', async () => {
    const raw = await rawSocket(server, alice.token);
    assert.deepEqual(await raw.exchange('{"type":"ping","ref":"r-1"}'), { type: 'ping', success: true, data: 'pong', ref: 'r-1' });
    assert.deepEqual(await raw.exchange('{"type":"ping","ref":7}'), { type: 'ping', success: true, data: 'pong', ref: 7 });
    assert.deepEqual(await raw.exchange('{"type":"get_conversation_info","ref":8}'), {
      type: 'get_conversation_info', success: false, error: 'id is required as int', code: 'bad_request', ref: 8,
    });
    assert.deepEqual(await raw.exchange('{"type":"nope","ref":"x"}'), {
      type: 'root', success: false, error: 'no type field found in the event', code: 'unknown_type', detail: 'unknown type "nope"', ref: 'x',
    });
    const badRef = { type: 'ping', success: false, error: 'ref must be a string of at most 64 characters or an integer', code: 'bad_request' };
    for (const ref of ['{}', '[1]', '1.5', 'true', JSON.stringify('r'.repeat(65))]) assert.deepEqual(await raw.exchange(`{"type":"ping","ref":${ref}}`), badRef, ref);
    assert.deepEqual(await raw.exchange(`{"type":"ping","ref":${JSON.stringify('r'.repeat(64))}}`), { type: 'ping', success: true, data: 'pong', ref: 'r'.repeat(64) });
    raw.close();
  });

  await t.test('ping answers pong', async () => {
    assert.equal(await alice.client.request('ping'), 'pong');
  });

  await t.test('self returns the account with a boolean is_online', async () => {
    const me = await alice.client.request('self');
    assert.deepEqual(Object.keys(me), ['username', 'fullname', 'is_online', 'last_online', 'created_at', 'bio', 'status', 'status_text', 'avatar_url', 'email', 'email_verified', 'role', 'notifications', 'notify_reactions', 'who_may_add', 'two_factor', 'two_factor_required'], 'the seed\'s fields first');
    assert.equal(me.username, alice.username);
    assert.equal(me.fullname, `Full ${alice.username}`);
    assert.equal(me.is_online, true);
    assert.ok(Number.isInteger(me.created_at) && Math.abs(me.created_at - Date.now() / 1000) < 60);
    assert.ok(me.last_online >= me.created_at);
  });

  await t.test('add_contact: every error in order, then success both ways', async () => {
    const c = alice.client;
    await rejects(c, { type: 'add_contact' }, 'invalid contact_username, expected a string');
    await rejects(c, { type: 'add_contact', contact_username: 5 }, 'invalid contact_username, expected a string');
    await rejects(c, { type: 'add_contact', contact_username: alice.username }, 'cannot add itself as a contact');
    await rejects(c, { type: 'add_contact', contact_username: alice.username.toUpperCase() }, 'cannot add itself as a contact');
    await rejects(c, { type: 'add_contact', contact_username: 'ghost_user' }, "no such user 'ghost_user' exists", 'not_found');
    const added = await c.request('add_contact', { contact_username: bob.username.toUpperCase() });
    assert.equal(added.message, `'${bob.username}' successfully added`);
    assert.deepEqual(Object.keys(added.contact), ['username', 'fullname', 'is_online', 'last_online', 'created_at', 'bio', 'status', 'status_text', 'avatar_url']);
    assert.deepEqual([added.contact.username, added.contact.fullname, added.contact.is_online], [bob.username, `Full ${bob.username}`, true]);
    await rejects(c, { type: 'add_contact', contact_username: bob.username }, `'${bob.username}' is already a contact`, 'conflict');
    await rejects(bob.client, { type: 'add_contact', contact_username: alice.username }, `'${alice.username}' is already a contact`, 'conflict');
  });

  await t.test('get_contacts lists contacts in the order added, both ways', async () => {
    await alice.client.request('add_contact', { contact_username: carol.username });
    const mine = await alice.client.request('get_contacts');
    assert.equal(mine.message, 'got all the contacts');
    assert.deepEqual(mine.contacts.map((contact) => [contact.username, contact.is_online]), [[bob.username, true], [carol.username, true]]);
    const bobs = await bob.client.request('get_contacts');
    assert.deepEqual(bobs.contacts.map((contact) => contact.username), [alice.username]);
    const lonely = await person(server);
    assert.deepEqual(await lonely.client.request('get_contacts'), { message: 'got all the contacts', contacts: [], next: null });
  });

  await t.test('create_conversation: every error in order', async () => {
    const c = alice.client;
    const members = [bob.username];
    await rejects(c, { type: 'create_conversation', name: 5, members }, 'name value expected as a non zero string');
    await rejects(c, { type: 'create_conversation', name: '', members }, 'name value expected as a non zero string');
    await rejects(c, { type: 'create_conversation', name: 'n'.repeat(101), members }, 'name may be at most 100 characters');
    await rejects(c, { type: 'create_conversation', name: 5 }, 'name value expected as a non zero string');
    await rejects(c, { type: 'create_conversation', name: 'x' }, 'members value expected a list');
    await rejects(c, { type: 'create_conversation', name: 'x', members: bob.username }, 'members value expected a list');
    await rejects(c, { type: 'create_conversation', name: 'x', members: [bob.username, 5] }, 'members should be a list of string');
    await rejects(c, { type: 'create_conversation', name: 'x', members: Array.from({ length: 1001 }, (_, i) => `u${i}`) }, 'members may list at most 1000 usernames');
    await rejects(c, { type: 'create_conversation', name: 'x', members: [bob.username, 'ghost_user'] }, "'ghost_user' is not a valid username", 'not_found');
  });

  await t.test('create_conversation: creator first, duplicates dropped, name optional', async () => {
    const c = alice.client;
    const made = await c.request('create_conversation', { name: 'Trio', members: [bob.username, carol.username.toUpperCase(), bob.username, alice.username] });
    assert.deepEqual(Object.keys(made), ['id', 'name', 'members', 'kind', 'description', 'created_at', 'avatar_url'], 'the seed\'s fields first');
    assert.deepEqual([made.name, made.members], ['Trio', [alice.username, bob.username, carol.username]]);
    const unnamed = await c.request('create_conversation', { members: [carol.username] });
    assert.equal(unnamed.name, `${alice.username}, ${carol.username}`);
    const nulled = await c.request('create_conversation', { name: null, members: [] });
    assert.deepEqual([nulled.name, nulled.members], [alice.username, [alice.username]]);
    assert.ok(unnamed.id > made.id && nulled.id > unnamed.id);
    const long = await c.request('create_conversation', { members: Array(1).fill(bob.username) });
    assert.equal(long.members.length, 2);
  });

  await t.test('get_conversations lists the caller\'s conversations in creation order', async () => {
    const newcomer = await person(server);
    assert.deepEqual(await newcomer.client.request('get_conversations'), []);
    const first = await newcomer.client.request('create_conversation', { name: 'first', members: [] });
    const second = await alice.client.request('create_conversation', { name: 'second', members: [newcomer.username] });
    await alice.client.request('create_conversation', { name: 'not theirs', members: [] });
    const listed = await newcomer.client.request('get_conversations');
    assert.deepEqual(listed.map(({ id, name }) => ({ id, name })), [{ id: first.id, name: 'first' }, { id: second.id, name: 'second' }]);
    assert.deepEqual(Object.keys(listed[0]!).slice(0, 2), ['id', 'name'], 'the seed\'s fields first');
  });

  await t.test('get_conversation_info: errors in order; a non-member learns nothing', async () => {
    const c = carol.client;
    await rejects(c, { type: 'get_conversation_info' }, 'id is required as int');
    await rejects(c, { type: 'get_conversation_info', conversation_id: 1 }, 'id is required as int');
    for (const id of ['1', 1.5, null, true, [1], 2 ** 53]) await rejects(c, { type: 'get_conversation_info', id }, 'id is required as int');
    const secret = await alice.client.request('create_conversation', { name: 'secret', members: [bob.username] });
    await rejects(c, { type: 'get_conversation_info', id: secret.id }, `${carol.username} is not part of any conversation with ${secret.id} id`, 'not_found');
    await rejects(c, { type: 'get_conversation_info', id: 999999 }, `${carol.username} is not part of any conversation with 999999 id`, 'not_found');
    assert.deepEqual(await bob.client.request('get_conversation_info', { id: secret.id }), secret);
    assert.deepEqual(secret.members, [alice.username, bob.username]);
  });

  await t.test('send_message: every error in order (membership before the other fields)', async () => {
    const room = await alice.client.request('create_conversation', { name: 'room', members: [bob.username] });
    const other = await alice.client.request('create_conversation', { name: 'other', members: [] });
    const elsewhere = await alice.client.request('send_message', { conversation_id: other.id, content: 'elsewhere' });
    const c = bob.client;
    const id = room.id;
    await rejects(c, { type: 'send_message', content: 'hi' }, 'expected conversation_id as integer');
    await rejects(c, { type: 'send_message', conversation_id: String(id), content: 'hi' }, 'expected conversation_id as integer');
    await rejects(c, { type: 'send_message', conversation_id: other.id, content: 5 }, `${bob.username} not part of conversation with ${other.id} id`, 'not_found');
    await rejects(c, { type: 'send_message', conversation_id: 999999 }, `${bob.username} not part of conversation with 999999 id`, 'not_found');
    await rejects(c, { type: 'send_message', conversation_id: id }, 'expected content as string');
    await rejects(c, { type: 'send_message', conversation_id: id, content: ['hi'] }, 'expected content as string');
    await rejects(c, { type: 'send_message', conversation_id: id, content: '' }, 'message content should be non empty string');
    await rejects(c, { type: 'send_message', conversation_id: id, content: ' \n\t' }, 'message content should be non empty string');
    await rejects(c, { type: 'send_message', conversation_id: id, content: 'hi', reply_id: '1' }, 'if reply_id is provided then expected integer');
    await rejects(c, { type: 'send_message', conversation_id: id, content: 'hi', reply_id: elsewhere.id }, `No such ${elsewhere.id} message id found in ${id} conversation_id`, 'not_found');
    await rejects(c, { type: 'send_message', conversation_id: id, content: 'hi', reply_id: 999999 }, `No such 999999 message id found in ${id} conversation_id`, 'not_found');
  });

  await t.test('send_message: the message, with replies and global ids', async () => {
    const room = await alice.client.request('create_conversation', { name: 'chat', members: [bob.username] });
    const first = await alice.client.request('send_message', { conversation_id: room.id, content: 'hello bob' });
    assert.deepEqual(Object.keys(first), ['id', 'sender_username', 'conversation_id', 'reply_id', 'content', 'sent_at', 'edited_at', 'deleted', 'reactions', 'reply_to', 'mentions', 'attachments', 'thread_id', 'also_to_conversation', 'thread']);
    assert.deepEqual({ ...first, sent_at: 0 }, { id: first.id, sender_username: alice.username, conversation_id: room.id, reply_id: null, content: 'hello bob', sent_at: 0, edited_at: null, deleted: false, reactions: [], reply_to: null, mentions: [], attachments: [], thread_id: null, also_to_conversation: false, thread: null });
    assert.ok(Math.abs(first.sent_at - Date.now() / 1000) < 60);
    const reply = await bob.client.request('send_message', { conversation_id: room.id, content: '  hi alice ✓ 🎉 ', reply_id: first.id });
    assert.deepEqual([reply.reply_id, reply.content, reply.sender_username], [first.id, '  hi alice ✓ 🎉 ', bob.username]);
    assert.deepEqual(reply.reply_to, { id: first.id, sender_username: alice.username, content: 'hello bob', deleted: false, attachments: [] }, 'a preview of the message replied to');
    const nulled = await bob.client.request('send_message', { conversation_id: room.id, content: 'null reply', reply_id: null });
    assert.equal(nulled.reply_id, null);
    const other = await alice.client.request('create_conversation', { name: 'other', members: [] });
    const there = await alice.client.request('send_message', { conversation_id: other.id, content: 'there' });
    assert.ok(there.id > nulled.id && nulled.id > reply.id && reply.id > first.id, 'ids are global and growing');
  });

  await t.test('get_messages: errors in order, then newest first in pages of 100', async () => {
    const room = await alice.client.request('create_conversation', { name: 'history', members: [bob.username] });
    const c = carol.client;
    await rejects(c, { type: 'get_messages' }, 'expected conversation_id as integer');
    await rejects(c, { type: 'get_messages', conversation_id: room.id, before: 'x' }, `${carol.username} not part of conversation with ${room.id} id`, 'not_found');
    await rejects(bob.client, { type: 'get_messages', conversation_id: room.id, before: 'x' }, 'expected before as integer');
    await rejects(bob.client, { type: 'get_messages', conversation_id: room.id, before: 1.5 }, 'expected before as integer');
    assert.deepEqual(await bob.client.request('get_messages', { conversation_id: room.id }), { conversation_id: room.id, messages: [] });

    const sent: number[] = [];
    for (let i = 0; i < 250; i++) sent.push((await alice.client.request('send_message', { conversation_id: room.id, content: `m${i}` })).id);
    const page1 = await bob.client.request('get_messages', { conversation_id: room.id });
    assert.equal(page1.conversation_id, room.id);
    assert.deepEqual(page1.messages.map((m) => m.id), sent.slice(150).reverse());
    assert.deepEqual(Object.keys(page1.messages[0]!), ['id', 'sender_username', 'reply_id', 'content', 'sent_at', 'edited_at', 'deleted', 'reactions', 'reply_to', 'mentions', 'attachments', 'thread_id', 'also_to_conversation', 'thread']);
    assert.deepEqual([page1.messages[0]!.content, page1.messages[0]!.sender_username], ['m249', alice.username]);
    const page2 = await bob.client.request('get_messages', { conversation_id: room.id, before: page1.messages.at(-1)!.id });
    assert.deepEqual(page2.messages.map((m) => m.id), sent.slice(50, 150).reverse());
    const page3 = await bob.client.request('get_messages', { conversation_id: room.id, before: page2.messages.at(-1)!.id });
    assert.deepEqual(page3.messages.map((m) => m.id), sent.slice(0, 50).reverse());
    const nulled = await bob.client.request('get_messages', { conversation_id: room.id, before: null });
    assert.equal(nulled.messages[0]!.id, sent.at(-1));
  });

  await t.test('the typed client rejects with the error text and code', async () => {
    await assert.rejects(alice.client.request('get_conversation_info', { id: 999999 }), (error: unknown) => {
      assert.ok(error instanceof RequestError);
      assert.deepEqual([error.type, error.code, error.message], ['get_conversation_info', 'not_found', `${alice.username} is not part of any conversation with 999999 id`]);
      return true;
    });
  });

  await t.test('self after the account is deleted: no such user', async () => {
    const doomed: Person = await person(server);
    await onDatabase(server, (db) => db.prepare('DELETE FROM users WHERE username = $1').run(doomed.username));
    await rejects(doomed.client, { type: 'self' }, `no such user '${doomed.username}' exists`, 'not_found');
  });

  await t.test('a handler that throws answers internal; the socket and the server live on', async () => {
    await onDatabase(server, async (db) => {
      if (db.engine === 'sqlite') {
        await db.prepare("CREATE TRIGGER fail_on_demand BEFORE INSERT ON messages WHEN NEW.content = 'make it fail' BEGIN SELECT RAISE(ABORT, 'injected failure'); END").run();
        return;
      }
      await db.prepare("CREATE FUNCTION fail_on_demand() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.content = 'make it fail' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$").run();
      await db.prepare('CREATE TRIGGER fail_on_demand BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION fail_on_demand()').run();
    });
    const room = await alice.client.request('create_conversation', { name: 'fragile', members: [bob.username] });
    await rejects(alice.client, { type: 'send_message', conversation_id: room.id, content: 'make it fail' }, 'internal server error', 'internal');
    const line = await server.waitForLog((entry) => entry.msg === 'handler failed');
    assert.equal(line.level, 'error');
    assert.equal(line.type, 'send_message');
    assert.match(JSON.stringify(line.error), /injected failure/);
    assert.equal(await alice.client.request('ping'), 'pong');
    const after = await alice.client.request('send_message', { conversation_id: room.id, content: 'still works' });
    assert.equal(after.content, 'still works');
    await settle(bob.client);
  });

  await t.test('logs record connects and disconnects but never message text', async () => {
    const visitor = await person(server);
    visitor.client.close();
    await visitor.client.closed;
    await server.waitForLog((line) => line.msg === 'disconnected' && line.user === visitor.username);
    assert.ok(server.logs.some((line) => line.msg === 'connected' && line.user === visitor.username));
    const output = server.output();
    for (const text of ['hello bob', 'hi alice', 'm249', 'make it fail', 'still works']) assert.ok(!output.includes(text), text);
  });

  await t.test('usernames differing only in case are one user', async () => {
    const name = uniqueName('Mixed');
    await register(server, name);
    const me = await person(server);
    const added = await me.client.request('add_contact', { contact_username: name.toLowerCase() });
    assert.equal(added.contact.username, name);
  });
});
