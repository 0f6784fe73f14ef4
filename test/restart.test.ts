// A restart keeps users, contacts, conversations, messages, sessions and the generated JWT secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import { connect, login, person } from './helpers/clients.ts';
import { http } from './helpers/http.ts';

test('a restart keeps everything, and a generated JWT secret with it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-restart-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { JWTSECRET: '', DBPATH: join(dir, 'nested', 'deeper', 'parley.db') };

  const first = await startServer(t, env, dir);
  const generated = await first.waitForLog((line) => line.msg === 'generated a JWT secret');
  const secretFile = join(dir, 'nested', 'deeper', 'jwt-secret');
  assert.equal(generated.file, secretFile);
  assert.equal(statSync(secretFile).mode & 0o777, 0o600);
  assert.equal(statSync(secretFile).size, 32);

  const alice = await person(first, 'alice');
  const bob = await person(first, 'bob');
  await alice.client.request('add_contact', { contact_username: bob.username });
  const room = await alice.client.request('create_conversation', { name: 'kept', members: [bob.username] });
  const sent = [];
  for (const content of ['one', 'two', 'three']) sent.push(await alice.client.request('send_message', { conversation_id: room.id, content }));
  const contactsBefore = await alice.client.request('get_contacts');
  const conversationsBefore = await alice.client.request('get_conversations');
  assert.equal(await first.stop('SIGTERM'), 0, 'SIGTERM stops the server cleanly');

  const second = await startServer(t, env, dir);
  assert.ok(!second.logs.some((line) => line.msg === 'generated a JWT secret'), 'the secret is reused, not made again');
  const verify = await http(second.http, 'GET', '/auth/verify', { headers: { cookie: `login-token=${alice.token}` } });
  assert.deepEqual([verify.status, verify.body], [200, `Hello, ${alice.username}`], 'tokens from before the restart still work');
  const again = await connect(second, alice.token);
  const contactsAfter = await again.request('get_contacts');
  assert.deepEqual(contactsAfter.contacts.map((c) => [c.username, c.fullname, c.created_at]), contactsBefore.contacts.map((c) => [c.username, c.fullname, c.created_at]));
  assert.deepEqual(await again.request('get_conversations'), conversationsBefore);
  assert.deepEqual(conversationsBefore.map(({ id, name, last_message }) => [id, name, last_message?.content]), [[room.id, 'kept', 'three']]);
  assert.deepEqual(await again.request('get_conversation_info', { id: room.id }), room);
  const history = await again.request('get_messages', { conversation_id: room.id });
  assert.deepEqual(history.messages, sent.reverse().map(({ conversation_id: _, ...message }) => message));
  const bobAgain = await connect(second, await login(second, bob.username));
  const next = await bobAgain.request('send_message', { conversation_id: room.id, content: 'after' });
  assert.ok(next.id > sent[0]!.id, 'ids keep growing after a restart');
});
