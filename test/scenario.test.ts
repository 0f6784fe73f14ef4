// A group's life, scripted, checked from each of three people's sockets: what each is pushed, and what each can sync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { expectError, person, settle, syncAll, waitFor, type Person } from './helpers/clients.ts';

test('a group from creation to ban, seen by three people', async (t) => {
  const server = await startServer(t);
  const ann = await person(server, 'ann');
  const ben = await person(server, 'ben');
  const cat = await person(server, 'cat');

  const group = await ann.client.request('create_conversation', { name: 'trip', members: [ben.username] });
  const id = group.id;
  await ann.client.request('add_members', { conversation_id: id, members: [cat.username] });
  await ann.client.request('set_member_role', { conversation_id: id, username: ben.username, role: 'admin' });
  await ben.client.request('update_conversation', { conversation_id: id, name: 'summer trip' });
  const question = await cat.client.request('send_message', { conversation_id: id, content: 'where do we go?' });
  const answer = await ann.client.request('send_message', { conversation_id: id, content: 'the sea', reply_id: question.id });
  assert.deepEqual(answer.reply_to, { id: question.id, sender_username: cat.username, content: 'where do we go?', deleted: false, attachments: [] });
  await ben.client.request('react', { message_id: question.id, emoji: '🌊' });
  const edited = await cat.client.request('edit_message', { message_id: question.id, content: 'where shall we go?' });
  assert.deepEqual(edited.reactions, [{ emoji: '🌊', count: 1, me: false }]);
  await ben.client.request('delete_message', { message_id: answer.id });
  await cat.client.request('mark_read', { conversation_id: id, message_id: answer.id });
  await waitFor(ann.pushes, (push) => push.type === 'receipt' && push.data.username === cat.username && push.data.read_id === answer.id);
  await waitFor(ben.pushes, (push) => push.type === 'receipt' && push.data.username === cat.username && push.data.read_id === answer.id);
  await cat.client.request('leave_conversation', { conversation_id: id });
  await ben.client.request('ban_member', { conversation_id: id, username: cat.username });
  await expectError(ann.client, { type: 'add_members', conversation_id: id, members: [cat.username] }, `'${cat.username}' is banned from conversation ${id}`, 'forbidden');
  await ann.client.request('send_message', { conversation_id: id, content: 'cat is gone' });
  await settle(ann.client, ben.client, cat.client);
  await waitFor(ben.pushes, (push) => push.type === 'send_message' && push.data.content === 'cat is gone');

  const story: [string, Person][] = [
    ['create_conversation', ann], ['add_members', ann], ['set_member_role', ann], ['update_conversation', ben],
    ['send_message', cat], ['send_message', ann], ['react', ben], ['edit_message', cat], ['delete_message', ben],
    ['leave_conversation', cat], ['ban_member', ben], ['send_message', ann],
  ];
  const expected = new Map<Person, [string, Person][]>([
    [ann, story],
    [ben, story],
    [cat, story.slice(1, 10)], // from being added through leaving: nothing before, nothing after
  ]);
  const inGroup = (data: unknown) => {
    const record = data as { conversation_id?: number; id?: number; conversation?: { id: number } };
    return record.conversation_id === id || record.conversation?.id === id || (record.id === id && !('content' in record));
  };
  for (const [who, seen] of expected) {
    const synced = (await syncAll(who.client)).filter((event) => event.type !== 'receipt' && inGroup(event.data));
    assert.deepEqual(synced.map((event) => event.type), seen.map(([type]) => type), `${who.username} syncs the group's story`);
    // Their own steps came back as replies; everyone else's were pushed to them.
    const live = seen.filter(([, actor]) => actor !== who).map(([type]) => type);
    const pushes = who.pushes.filter((push) => push.type !== 'receipt' && push.type !== 'typing' && inGroup(push.data));
    assert.deepEqual(pushes.map((push) => push.type), live, `${who.username} was pushed everything others did, live`);
  }

  // What each socket shows of the question: cat edited it, ben reacted; each sees their own `me`.
  const reactFor = (who: Person) => who.pushes.filter((push) => push.type === 'edit_message').map((push) => (push.data as typeof edited).reactions);
  assert.deepEqual(reactFor(ann), [[{ emoji: '🌊', count: 1, me: false }]]);
  assert.deepEqual(reactFor(ben), [[{ emoji: '🌊', count: 1, me: true }]]);
  const tombstone = ann.pushes.find((push) => push.type === 'delete_message')!.data as typeof answer;
  assert.deepEqual([tombstone.id, tombstone.content, tombstone.deleted], [answer.id, '', true]);
  const finalState = await ben.client.request('get_messages', { conversation_id: id, after: 0 });
  assert.deepEqual(finalState.messages.map((message) => [message.content, message.deleted, message.edited_at !== null]), [
    ['where shall we go?', false, true],
    ['', true, false],
    ['cat is gone', false, false],
  ]);
  const members = await ann.client.request('get_members', { conversation_id: id });
  assert.deepEqual(members.map((member) => [member.username, member.role]), [[ann.username, 'owner'], [ben.username, 'admin']]);
  assert.deepEqual((await ben.client.request('get_banned', { conversation_id: id })).banned.map((entry) => entry.username), [cat.username]);
  assert.equal((await ann.client.request('get_conversation_info', { id })).name, 'summer trip');
});
