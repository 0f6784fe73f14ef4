// No existence leak: for every event that names a conversation, a member or a message, a non-member gets the
// answer a missing one gets, and can neither read, change nor hear anything of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { open, person, settle } from './helpers/clients.ts';
import type { Client } from '../protocol/client.ts';
import { pushes, type PushType } from '../protocol/index.ts';
import { sleep } from './helpers/wait.ts';

const missing = 987_654;

/** The reply to a frame, with the id it names replaced, so two replies can be compared. */
async function answer(client: Client, frame: Record<string, unknown>, id: number) {
  const { ref: _, ...reply } = await client.call(frame);
  return JSON.parse(JSON.stringify(reply).replace(new RegExp(`\\b${id}\\b`, 'g'), '<id>'));
}

test('a non-member learns nothing about a conversation or its messages', async (t) => {
  const server = await startServer(t, { COMMAND_HOSTS: 'commands.example' });
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const eve = await person(server, 'eve');
  const secret = await alice.client.request('create_conversation', { name: 'secret plans', members: [bob.username] });
  const hidden = await alice.client.request('send_message', { conversation_id: secret.id, content: 'the plan' });
  const own = await eve.client.request('create_conversation', { name: 'eve alone', members: [] });

  const probes: { name: string; frame: (id: number) => Record<string, unknown> }[] = [
    { name: 'get_conversation_info', frame: (id) => ({ type: 'get_conversation_info', id }) },
    { name: 'get_messages', frame: (id) => ({ type: 'get_messages', conversation_id: id }) },
    { name: 'get_messages before', frame: (id) => ({ type: 'get_messages', conversation_id: id, before: 5 }) },
    { name: 'send_message', frame: (id) => ({ type: 'send_message', conversation_id: id, content: 'let me in' }) },
    { name: 'send_message, bad content', frame: (id) => ({ type: 'send_message', conversation_id: id, content: 42 }) },
    { name: 'send_message with a client_id', frame: (id) => ({ type: 'send_message', conversation_id: id, content: 'x', client_id: 'probe' }) },
    { name: 'send_message in a thread', frame: (id) => ({ type: 'send_message', conversation_id: id, content: 'x', thread_id: 1 }) },
    { name: 'get_messages without thread replies', frame: (id) => ({ type: 'get_messages', conversation_id: id, without_thread_replies: true }) },
    { name: 'get_threads in it', frame: (id) => ({ type: 'get_threads', conversation_id: id }) },
    { name: 'update_conversation', frame: (id) => ({ type: 'update_conversation', conversation_id: id, name: 'mine' }) },
    { name: 'update_conversation, nothing to update', frame: (id) => ({ type: 'update_conversation', conversation_id: id }) },
    { name: 'delete_conversation', frame: (id) => ({ type: 'delete_conversation', conversation_id: id }) },
    { name: 'set_favorite', frame: (id) => ({ type: 'set_favorite', conversation_id: id, favorite: true }) },
    { name: 'set_pinned', frame: (id) => ({ type: 'set_pinned', conversation_id: id, pinned: true }) },
    { name: 'clear_chat', frame: (id) => ({ type: 'clear_chat', conversation_id: id }) },
    { name: 'set_retention', frame: (id) => ({ type: 'set_retention', conversation_id: id, days: 1 }) },
    { name: 'set_retention, bad days', frame: (id) => ({ type: 'set_retention', conversation_id: id, days: 0 }) },
    { name: 'get_members', frame: (id) => ({ type: 'get_members', conversation_id: id }) },
    { name: 'add_members', frame: (id) => ({ type: 'add_members', conversation_id: id, members: ['eve'] }) },
    { name: 'remove_member', frame: (id) => ({ type: 'remove_member', conversation_id: id, username: 'alice' }) },
    { name: 'set_member_role', frame: (id) => ({ type: 'set_member_role', conversation_id: id, username: 'alice', role: 'member' }) },
    { name: 'leave_conversation', frame: (id) => ({ type: 'leave_conversation', conversation_id: id }) },
    { name: 'join_channel (a group)', frame: (id) => ({ type: 'join_channel', conversation_id: id }) },
    { name: 'ban_member', frame: (id) => ({ type: 'ban_member', conversation_id: id, username: 'alice' }) },
    { name: 'unban_member', frame: (id) => ({ type: 'unban_member', conversation_id: id, username: 'alice' }) },
    { name: 'get_banned', frame: (id) => ({ type: 'get_banned', conversation_id: id }) },
    { name: 'search_messages in it', frame: (id) => ({ type: 'search_messages', query: 'plan', conversation_id: id }) },
    { name: 'mark_read', frame: (id) => ({ type: 'mark_read', conversation_id: id, message_id: 1 }) },
    { name: 'typing', frame: (id) => ({ type: 'typing', conversation_id: id, is_typing: true }) },
    { name: 'create_webhook', frame: (id) => ({ type: 'create_webhook', conversation_id: id, name: 'mine' }) },
    { name: 'get_webhooks', frame: (id) => ({ type: 'get_webhooks', conversation_id: id }) },
    { name: 'create_command', frame: (id) => ({ type: 'create_command', conversation_id: id, command: 'mine', url: 'https://commands.example/mine' }) },
    { name: 'get_commands', frame: (id) => ({ type: 'get_commands', conversation_id: id }) },
    { name: 'run_command', frame: (id) => ({ type: 'run_command', conversation_id: id, text: '/deploy now' }) },
  ];
  // Eve's bot, with its token, learns no more than Eve: it is no member either.
  const made = await eve.client.request('create_bot', { username: `${eve.username}_bot`, fullname: 'Eve\'s bot' });
  const bot = open(server, undefined, { authorization: `Bearer ${made.token}` });
  await bot.opened;
  const botHeard: string[] = [];
  for (const type of Object.keys(pushes) as PushType[]) bot.on(type, () => botHeard.push(type));
  for (const [who, prober] of [['eve', eve.client], ['eve\'s bot', bot]] as const) {
    for (const probe of probes) {
      const existing = await answer(prober, probe.frame(secret.id), secret.id);
      const absent = await answer(prober, probe.frame(missing), missing);
      const name = `${probe.name} (${who})`;
      assert.deepEqual(existing, absent, name);
      assert.equal(existing.success, false, name);
      // A bot joins no channel and runs no command, whichever conversation it names.
      assert.equal(existing.code, prober === bot && ['join_channel (a group)', 'run_command'].includes(probe.name) ? 'forbidden' : 'not_found', name);
    }
  }

  // Exporting a conversation is for admins: anyone else is refused the same way whether it exists or not.
  const exported = await answer(eve.client, { type: 'request_export', conversation_id: secret.id }, secret.id);
  assert.deepEqual(exported, await answer(eve.client, { type: 'request_export', conversation_id: missing }, missing));
  assert.equal(exported.code, 'forbidden');

  // A message id from a conversation the caller is not in is as unknown as a missing one.
  const messageProbes: { name: string; frame: (id: number) => Record<string, unknown> }[] = [
    { name: 'reply_id', frame: (id) => ({ type: 'send_message', conversation_id: own.id, content: 'x', reply_id: id }) },
    { name: 'thread_id', frame: (id) => ({ type: 'send_message', conversation_id: own.id, content: 'x', thread_id: id }) },
    { name: 'get_thread', frame: (id) => ({ type: 'get_thread', message_id: id }) },
    { name: 'follow_thread', frame: (id) => ({ type: 'follow_thread', message_id: id }) },
    { name: 'unfollow_thread', frame: (id) => ({ type: 'unfollow_thread', message_id: id }) },
    { name: 'mark_thread_read', frame: (id) => ({ type: 'mark_thread_read', message_id: id }) },
    { name: 'edit_message', frame: (id) => ({ type: 'edit_message', message_id: id, content: 'x' }) },
    { name: 'delete_message', frame: (id) => ({ type: 'delete_message', message_id: id }) },
    { name: 'react', frame: (id) => ({ type: 'react', message_id: id, emoji: '👍' }) },
    { name: 'unreact', frame: (id) => ({ type: 'unreact', message_id: id, emoji: '👍' }) },
    { name: 'get_receipts', frame: (id) => ({ type: 'get_receipts', message_id: id }) },
    { name: 'mark_read in her own conversation', frame: (id) => ({ type: 'mark_read', conversation_id: own.id, message_id: id }) },
  ];
  for (const prober of [eve.client, bot]) {
    for (const probe of messageProbes) {
      const existing = await answer(prober, probe.frame(hidden.id), hidden.id);
      assert.deepEqual(existing, await answer(prober, probe.frame(missing), missing), probe.name);
      assert.equal(existing.code, 'not_found', probe.name);
    }
  }
  // A webhook of a conversation the caller is not in is as unknown as a missing one.
  const hook = await alice.client.request('create_webhook', { conversation_id: secret.id, name: 'CI' });
  for (const prober of [eve.client, bot]) {
    for (const type of ['rotate_webhook_secret', 'delete_webhook']) {
      const existing = await answer(prober, { type, webhook_id: hook.id }, hook.id);
      assert.deepEqual(existing, await answer(prober, { type, webhook_id: missing }, missing), type);
      assert.equal(existing.code, prober === bot ? 'forbidden' : 'not_found', type);
    }
  }
  // So is a slash command.
  const command = await alice.client.request('create_command', { conversation_id: secret.id, command: 'deploy', url: 'https://commands.example/deploy' });
  for (const prober of [eve.client, bot]) {
    const existing = await answer(prober, { type: 'delete_command', command_id: command.id }, command.id);
    assert.deepEqual(existing, await answer(prober, { type: 'delete_command', command_id: missing }, missing), 'delete_command');
    assert.equal(existing.code, prober === bot ? 'forbidden' : 'not_found', 'delete_command');
  }
  // Another's bot is as unknown as a missing one, to its owner's peers and to bots.
  for (const prober of [alice.client, bot]) {
    for (const type of ['rotate_bot_token', 'delete_bot']) {
      const existing = await answer(prober, { type, username: made.username }, 0);
      assert.deepEqual(existing, JSON.parse(JSON.stringify(await answer(prober, { type, username: 'no_bot_here' }, 0)).replaceAll('no_bot_here', made.username)), type);
      assert.equal(existing.code, prober === bot ? 'forbidden' : 'not_found', type);
    }
  }
  assert.deepEqual(await eve.client.request('get_threads'), { threads: [], next: null }, 'no thread of it is followed');
  const found = await eve.client.request('search_messages', { query: 'plan*' });
  assert.deepEqual(found.messages, [], 'search finds nothing of it');
  assert.ok(!(await eve.client.request('list_channels')).channels.some((channel) => channel.id === secret.id), 'a group is not listed as a channel');

  assert.deepEqual((await eve.client.request('get_conversations')).map(({ id, name }) => ({ id, name })), [{ id: own.id, name: 'eve alone' }], 'not listed');
  const history = await bob.client.request('get_messages', { conversation_id: secret.id });
  assert.deepEqual(history.messages.map((m) => [m.content, m.edited_at, m.deleted, m.reactions, m.thread]), [['the plan', null, false, [], null]], 'nothing was changed by the probes');
  const info = await bob.client.request('get_conversation_info', { id: secret.id });
  assert.deepEqual([info.name, info.members], ['secret plans', [alice.username, bob.username, hook.username, command.username]]);
  assert.deepEqual((await bob.client.request('get_webhooks', { conversation_id: secret.id })).map(({ name }) => name), ['CI'], 'nothing was made by the probes');
  assert.deepEqual((await bob.client.request('get_commands', { conversation_id: secret.id })).map((one) => one.command), ['deploy']);
  assert.deepEqual(await alice.client.request('get_banned', { conversation_id: secret.id }), { banned: [], next: null });

  await alice.client.request('send_message', { conversation_id: secret.id, content: 'more plans' });
  await bob.client.request('send_message', { conversation_id: secret.id, content: `in a thread, @${eve.username}`, thread_id: hidden.id });
  await alice.client.request('typing', { conversation_id: secret.id, is_typing: true });
  await alice.client.request('react', { message_id: hidden.id, emoji: '🎉' });
  await alice.client.request('update_conversation', { conversation_id: secret.id, description: 'shh' });
  await settle(alice.client, eve.client);
  await sleep(600); // past the receipts' gathering delay
  await settle(eve.client);
  assert.deepEqual(eve.pushes, [], 'a non-member is told nothing');
  await settle(bot);
  assert.deepEqual(botHeard, [], 'nor is a non-member bot');
  assert.deepEqual((await eve.client.request('sync', { since: 0 })).events.map((event) => event.type), ['create_conversation'], 'and can sync nothing of it');
});
