// Notifications end to end: a real server sends to a real local push service (VAPID checked, payload
// decrypted) and webhook receiver; devices, who is notified and who is not, levels, mentions, gone devices.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { expectError, login, person, socket } from './helpers/clients.ts';
import { http } from './helpers/http.ts';
import { built } from './helpers/built.ts';
import { startServer } from './helpers/server.ts';
import { awayWithDevice, drained, pushServer, receivedBy, waitForPushes, type Away } from './helpers/push-server.ts';
import { sleep } from './helpers/wait.ts';

test('notifications', async (t) => {
  const setup = await pushServer(t);
  const { server, service } = setup;

  /** Back online for one request, then away again. */
  async function asAway(someone: Away, work: (client: Awaited<ReturnType<typeof socket>>['client']) => Promise<unknown>): Promise<void> {
    const { client } = await socket(server, someone.token);
    await work(client);
    client.close();
    await client.closed;
  }

  await t.test('the push key before login (GET /push/key) and as an event', async () => {
    const key = await http(server.http, 'GET', '/push/key');
    assert.equal(key.status, 200);
    assert.equal(key.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(key.body), { public_key: setup.publicKey, webpush: true, webhook: true });
    const alice = await person(server, 'alice');
    assert.deepEqual(await alice.client.request('get_push_key'), { public_key: setup.publicKey, webpush: true, webhook: true });
  });

  await t.test('register_device, get_devices, unregister_device; the endpoint and keys are checked', async () => {
    const alice = await person(server, 'alice');
    const subscription = service.subscribe();
    const device = await alice.client.request('register_device', { kind: 'webpush', subscription: { ...subscription, expirationTime: null }, name: 'laptop' });
    assert.deepEqual({ ...device, created_at: 0 }, { id: device.id, kind: 'webpush', name: 'laptop', platform: null, push_service: service.host, created_at: 0, current: true });
    const app = await alice.client.request('register_device', { kind: 'webhook', token: 'fcm-token-1', platform: 'android' });
    assert.deepEqual([app.kind, app.platform, app.push_service, app.name], ['webhook', 'android', null, '']);
    assert.deepEqual((await alice.client.request('get_devices')).map((item) => item.id), [device.id, app.id]);
    // The same subscription again replaces the device rather than adding one.
    const again = await alice.client.request('register_device', { kind: 'webpush', subscription });
    assert.deepEqual((await alice.client.request('get_devices')).map((item) => item.id), [app.id, again.id]);

    const plain = subscription.endpoint.replace('https:', 'http:');
    await expectError(alice.client, { type: 'register_device', kind: 'webpush', subscription: { ...subscription, endpoint: plain } }, 'subscription: endpoint must be an https URL', 'bad_request');
    await expectError(alice.client, { type: 'register_device', kind: 'webpush', subscription: { ...subscription, endpoint: 'https://127.0.0.2:9/push/x' } },
      'subscription: endpoint host 127.0.0.2:9 is not a push service this server sends to (PUSH_ENDPOINT_HOSTS)', 'bad_request');
    await expectError(alice.client, { type: 'register_device', kind: 'webpush', subscription: { ...subscription, keys: { ...subscription.keys, auth: 'short' } } },
      'subscription: keys.auth must be 16 bytes in base64url', 'bad_request');
    await expectError(alice.client, { type: 'register_device', kind: 'webpush' },
      'kind webpush needs subscription: what PushManager.subscribe() gives, with endpoint, keys.p256dh and keys.auth', 'bad_request');
    await expectError(alice.client, { type: 'register_device', kind: 'webpush', subscription, token: 'x' }, 'token does not go with kind webpush', 'bad_request');
    await expectError(alice.client, { type: 'register_device', kind: 'webhook' }, "kind webhook needs token: the native app's push token", 'bad_request');
    await expectError(alice.client, { type: 'register_device', kind: 'carrier-pigeon' }, 'kind must be one of webpush, webhook', 'bad_request');

    assert.deepEqual(await alice.client.request('unregister_device', { device_id: app.id }), { device_id: app.id });
    await expectError(alice.client, { type: 'unregister_device', device_id: app.id }, `no device ${app.id} of yours`, 'not_found');
    const bob = await person(server, 'bob');
    await expectError(bob.client, { type: 'unregister_device', device_id: again.id }, `no device ${again.id} of yours`, 'not_found');
    assert.deepEqual(await bob.client.request('get_devices'), []);
  });

  await t.test('the device limit', async () => {
    const carol = await person(server, 'carol');
    for (let i = 0; i < 20; i++) await carol.client.request('register_device', { kind: 'webhook', token: `carol-${i}` });
    await expectError(carol.client, { type: 'register_device', kind: 'webhook', token: 'one-too-many' }, 'at most 20 devices per account: unregister one first', 'bad_request');
    // Registering one of the twenty again replaces it, and is allowed.
    await carol.client.request('register_device', { kind: 'webhook', token: 'carol-3' });
  });

  await t.test('a new message reaches the offline member, encrypted, with VAPID, TTL, Urgency and Topic; not the sender, not the online', async () => {
    const alice = await person(server, 'alice');
    const online = await person(server, 'online');
    const onlineDevice = service.subscribe();
    await online.client.request('register_device', { kind: 'webpush', subscription: onlineDevice });
    await alice.client.request('register_device', { kind: 'webpush', subscription: service.subscribe() });
    const bob = await awayWithDevice(setup, 'bob');
    const group = await alice.client.request('create_conversation', { name: 'weekend', members: [bob.username, online.username] });
    const added = await waitForPushes(service, bob.subscription);
    assert.deepEqual(added.map((item) => item.payload), [{ kind: 'added', conversation_id: group.id, conversation_name: 'weekend', direct: false, sender: alice.username, unread: 0 }]);

    await alice.client.request('send_message', { conversation_id: group.id, content: 'hello there' });
    const [, message] = await waitForPushes(service, bob.subscription, 2);
    assert.deepEqual(message!.payload, { kind: 'message', conversation_id: group.id, conversation_name: 'weekend', direct: false, sender: alice.username, unread: 1, preview: 'hello there' });
    assert.equal(message!.urgency, 'normal');
    assert.match(message!.topic!, /^[A-Za-z0-9_-]{32}$/);
    assert.equal(message!.topic, added[0]!.topic, 'one topic per conversation');
    assert.ok(Number(message!.ttl) > 86_000 && Number(message!.ttl) <= 86_400, `TTL ${message!.ttl}`);
    assert.equal(message!.claims.aud, service.origin);
    await drained(server);
    assert.equal(receivedBy(service, onlineDevice).length, 0, 'a member with a socket open is told on the socket');
    assert.equal(service.received.filter((item) => (item.payload as { sender?: string }).sender === bob.username).length, 0);
    assert.deepEqual(service.rejected, []);
  });

  await t.test('a direct conversation: notified of it, its messages urgent', async () => {
    const alice = await person(server, 'alice');
    const bob = await awayWithDevice(setup, 'bob');
    const direct = await alice.client.request('create_conversation', { kind: 'direct', members: [bob.username] });
    await waitForPushes(service, bob.subscription, 1); // else the message would replace the news of the conversation (coalescing)
    await alice.client.request('send_message', { conversation_id: direct.id, content: 'psst' });
    const got = await waitForPushes(service, bob.subscription, 2);
    assert.deepEqual(got.map((item) => [(item.payload as { kind: string }).kind, (item.payload as { direct: boolean }).direct, item.urgency]), [['direct', true, 'high'], ['message', true, 'high']]);
  });

  await t.test('levels: none mutes, mentions lets only mentions through, until ends it; shown in get_conversations', async () => {
    const alice = await person(server, 'alice');
    const bob = await awayWithDevice(setup, 'bob');
    const group = await alice.client.request('create_conversation', { name: 'noisy', members: [bob.username] });
    await waitForPushes(service, bob.subscription, 1);

    await asAway(bob, async (client) => {
      assert.deepEqual(await client.request('set_notifications', { conversation_id: group.id, level: 'none' }), { conversation_id: group.id, notifications: { level: 'none', until: null } });
      const item = (await client.request('get_conversations')).find((conversation) => conversation.id === group.id);
      assert.deepEqual(item!.notifications, { level: 'none', until: null });
    });
    await alice.client.request('send_message', { conversation_id: group.id, content: `muted, even @${bob.username}` });
    await drained(server);
    assert.equal(receivedBy(service, bob.subscription).length, 1, 'none: nothing at all');

    await asAway(bob, (client) => client.request('set_notifications', { conversation_id: group.id, level: 'mentions' }));
    await alice.client.request('send_message', { conversation_id: group.id, content: 'chatter' });
    await drained(server);
    assert.equal(receivedBy(service, bob.subscription).length, 1, 'mentions: chatter does not notify');
    const mention = await alice.client.request('send_message', { conversation_id: group.id, content: `look @${bob.username.toUpperCase()}, and @nobody` });
    assert.deepEqual(mention.mentions, [bob.username]);
    const [, got] = await waitForPushes(service, bob.subscription, 2);
    assert.deepEqual([(got!.payload as { kind: string }).kind, got!.urgency, (got!.payload as { unread: number }).unread], ['mention', 'high', 3]);

    await asAway(bob, async (client) => {
      const until = Math.floor(Date.now() / 1000) + 3600;
      assert.deepEqual(await client.request('set_notifications', { conversation_id: group.id, level: 'none', until }), { conversation_id: group.id, notifications: { level: 'none', until } });
      await expectError(client, { type: 'set_notifications', conversation_id: group.id, level: 'none', until: 1000 }, 'until must be in the future (Unix seconds), or null for ever', 'bad_request');
      await expectError(client, { type: 'set_notifications', conversation_id: group.id, level: 'default', until }, 'until goes with all, mentions or none, not with default', 'bad_request');
      await expectError(client, { type: 'set_notifications', conversation_id: group.id, level: 'loud' }, 'level must be one of all, mentions, none, default', 'bad_request');
      assert.deepEqual(await client.request('set_notifications', { conversation_id: group.id, level: 'default' }), { conversation_id: group.id, notifications: null });
    });
    await alice.client.request('send_message', { conversation_id: group.id, content: 'back to normal' });
    await waitForPushes(service, bob.subscription, 3);
    const outsider = await person(server, 'outsider');
    await expectError(outsider.client, { type: 'set_notifications', conversation_id: group.id, level: 'none' }, `${outsider.username} not part of conversation with ${group.id} id`, 'not_found');
  });

  await t.test('the default level and reactions in update_profile; busy holds all but direct messages and mentions', async () => {
    const alice = await person(server, 'alice');
    const bob = await awayWithDevice(setup, 'bob');
    const group = await alice.client.request('create_conversation', { name: 'defaults', members: [bob.username] });
    await waitForPushes(service, bob.subscription, 1);
    await asAway(bob, async (client) => {
      const self = await client.request('update_profile', { notifications: 'mentions', notify_reactions: false });
      assert.deepEqual([self.notifications, self.notify_reactions], ['mentions', false]);
    });
    const mine = await alice.client.request('send_message', { conversation_id: group.id, content: 'default says mentions only' });
    await drained(server);
    assert.equal(receivedBy(service, bob.subscription).length, 1);

    // Reactions: off, then on.
    let own = 0;
    await asAway(bob, async (client) => {
      await client.request('mark_read', { conversation_id: group.id, message_id: mine.id });
      own = (await client.request('send_message', { conversation_id: group.id, content: 'react to me' })).id;
      await alice.client.request('react', { message_id: own, emoji: '👍' });
      await client.request('update_profile', { notifications: 'all', notify_reactions: true });
    });
    await drained(server);
    assert.equal(receivedBy(service, bob.subscription).length, 1, 'notify_reactions false: no reaction notice');
    await alice.client.request('react', { message_id: own, emoji: '🎉' });
    const [, reaction] = await waitForPushes(service, bob.subscription, 2);
    assert.deepEqual(reaction!.payload, { kind: 'reaction', conversation_id: group.id, conversation_name: 'defaults', direct: false, sender: alice.username, unread: 0, emoji: '🎉', preview: 'react to me' });

    await asAway(bob, (client) => client.request('set_status', { status: 'busy' }));
    await alice.client.request('send_message', { conversation_id: group.id, content: 'busy people miss this' });
    await drained(server);
    assert.equal(receivedBy(service, bob.subscription).length, 2, 'busy: a group message waits');
    await alice.client.request('send_message', { conversation_id: group.id, content: `but not this, @${bob.username}` });
    await waitForPushes(service, bob.subscription, 3);
    const direct = await alice.client.request('create_conversation', { kind: 'direct', members: [bob.username] });
    await waitForPushes(service, bob.subscription, 4);
    await alice.client.request('send_message', { conversation_id: direct.id, content: 'nor this' });
    const got = await waitForPushes(service, bob.subscription, 5);
    assert.deepEqual(got.slice(2).map((item) => (item.payload as { kind: string }).kind), ['mention', 'direct', 'message']);
    assert.equal(mine.mentions.length, 0);
  });

  await t.test('whoever blocked the sender is not notified; a removed member is not either', async () => {
    const alice = await person(server, 'alice');
    const carol = await person(server, 'carol');
    const bob = await awayWithDevice(setup, 'bob');
    const dave = await awayWithDevice(setup, 'dave');
    const group = await carol.client.request('create_conversation', { name: 'blocks', members: [alice.username, bob.username, dave.username] });
    await waitForPushes(service, bob.subscription, 1);
    await waitForPushes(service, dave.subscription, 1);
    await asAway(bob, (client) => client.request('block_user', { username: alice.username }));
    await carol.client.request('remove_member', { conversation_id: group.id, username: dave.username });
    await alice.client.request('send_message', { conversation_id: group.id, content: 'from someone bob blocked' });
    await drained(server);
    assert.equal(receivedBy(service, bob.subscription).length, 1);
    assert.equal(receivedBy(service, dave.subscription).length, 1);
    await carol.client.request('send_message', { conversation_id: group.id, content: 'from carol' });
    const [, fromCarol] = await waitForPushes(service, bob.subscription, 2);
    assert.equal((fromCarol!.payload as { sender: string }).sender, carol.username);
    await drained(server);
    assert.equal(receivedBy(service, dave.subscription).length, 1);
  });

  await t.test('a long message: its preview is cut to 200 characters', async () => {
    const alice = await person(server, 'alice');
    const bob = await awayWithDevice(setup, 'bob');
    const group = await alice.client.request('create_conversation', { name: 'long', members: [bob.username] });
    await waitForPushes(service, bob.subscription, 1);
    await alice.client.request('send_message', { conversation_id: group.id, content: 'x'.repeat(1000) });
    const [, got] = await waitForPushes(service, bob.subscription, 2);
    assert.equal((got!.payload as { preview: string }).preview, `${'x'.repeat(199)}…`);
  });

  await t.test('a push service that says 410 (gone): the device is removed', async () => {
    const alice = await person(server, 'alice');
    const bob = await person(server, 'bob');
    const subscription = service.subscribe();
    await bob.client.request('register_device', { kind: 'webpush', subscription });
    const group = await alice.client.request('create_conversation', { name: 'gone', members: [bob.username] });
    service.reply(subscription, { status: 410 });
    bob.client.close();
    await bob.client.closed;
    await alice.client.request('send_message', { conversation_id: group.id, content: 'anyone?' });
    await drained(server);
    assert.deepEqual(service.requests.filter((item) => subscription.endpoint.endsWith(item.subscription)).map((item) => item.status), [410]);
    const { client } = await socket(server, bob.token);
    assert.deepEqual(await client.request('get_devices'), []);
  });

  await t.test('429 with Retry-After and 500 are retried; then delivered once', async () => {
    const alice = await person(server, 'alice');
    const bob = await awayWithDevice(setup, 'bob');
    service.reply(bob.subscription, { status: 429, retryAfter: '1' }, { status: 500 });
    const group = await alice.client.request('create_conversation', { name: 'retry', members: [bob.username] });
    const got = await waitForPushes(service, bob.subscription, 1);
    const tries = service.requests.filter((item) => bob.subscription.endpoint.endsWith(item.subscription));
    assert.deepEqual(tries.map((item) => item.status), [429, 500, 201]);
    assert.ok(tries[1]!.at - tries[0]!.at >= 1000, 'Retry-After honoured');
    assert.deepEqual((got[0]!.payload as { conversation_id: number }).conversation_id, group.id);
  });

  await t.test('logging out removes the devices of that session only', async () => {
    const erin = await person(server, 'erin');
    await erin.client.request('register_device', { kind: 'webpush', subscription: service.subscribe() });
    const { http: base } = server;
    const other = await http(base, 'POST', '/auth/login', { body: { username: erin.username, password: 'correct horse battery' } });
    const otherToken = /login-token=([^;]+)/.exec(String(other.headers['set-cookie']))![1]!;
    const second = await socket(server, otherToken);
    const kept = await second.client.request('register_device', { kind: 'webhook', token: 'erin-phone' });
    const out = await http(base, 'POST', '/auth/logout', { headers: { cookie: `login-token=${erin.token}` } });
    assert.equal(out.status, 204, out.body);
    const devices = await second.client.request('get_devices');
    assert.deepEqual(devices.map((device) => [device.id, device.current]), [[kept.id, true]]);
  });

  await t.test('webhook devices: a signed POST to PUSH_WEBHOOK_URL', async () => {
    const alice = await person(server, 'alice');
    const frank = await person(server, 'frank');
    const device = await frank.client.request('register_device', { kind: 'webhook', token: 'apns-frank', platform: 'ios' });
    frank.client.close();
    await frank.client.closed;
    const group = await alice.client.request('create_conversation', { name: 'bridge', members: [frank.username] });
    await drained(server);
    const call = setup.webhook.calls.find((item) => item.body.token === 'apns-frank');
    assert.ok(call, JSON.stringify(setup.webhook));
    assert.deepEqual({ ...call.body, delivery: 0, ttl: 0, topic: 0 }, {
      delivery: 0, ttl: 0, topic: 0, device_id: device.id, token: 'apns-frank', platform: 'ios', urgency: 'normal',
      notification: { kind: 'added', conversation_id: group.id, conversation_name: 'bridge', direct: false, sender: alice.username, unread: 0 },
    });
    assert.deepEqual(setup.webhook.rejected, []);
  });
});

test('notifications: coalescing, no preview, mentions on messages, administrators\' notices, revoked sessions', async (t) => {
  const setup = await pushServer(t, { PUSH_COALESCE_SECONDS: '1', PUSH_PREVIEW: 'false' });
  const { server, service } = setup;
  const alice = await person(server, 'alice');

  await t.test('a burst in one conversation makes one notification per device per PUSH_COALESCE_SECONDS, with the unread count', async () => {
    const bob = await awayWithDevice(setup, 'bob');
    const group = await alice.client.request('create_conversation', { name: 'burst', members: [bob.username] });
    const [added] = await waitForPushes(service, bob.subscription, 1);
    for (const content of ['one', 'two', 'three']) await alice.client.request('send_message', { conversation_id: group.id, content });
    const [, burst] = await waitForPushes(service, bob.subscription, 2);
    assert.deepEqual(burst!.payload, { kind: 'message', conversation_id: group.id, conversation_name: 'burst', direct: false, sender: alice.username, unread: 3, preview: null });
    assert.ok(burst!.at - added!.at >= 900, `held for the coalescing time (${burst!.at - added!.at} ms)`);
    assert.equal(burst!.topic, added!.topic);
    await drained(server);
    assert.equal(receivedBy(service, bob.subscription).length, 2);
  });

  await t.test('mentions: recorded in order, on message objects, gone with the message; addresses are not mentions', async () => {
    const bob = await person(server, 'bob');
    const carol = await person(server, 'carol');
    const group = await alice.client.request('create_conversation', { name: 'names', members: [bob.username, carol.username] });
    const sent = await alice.client.request('send_message', { conversation_id: group.id, content: `@${carol.username}, ask @${bob.username}. mail ${bob.username}@example.com, not @${alice.username}x or @${carol.username}` });
    assert.deepEqual(sent.mentions, [carol.username, bob.username]);
    const listed = await bob.client.request('get_messages', { conversation_id: group.id });
    assert.deepEqual(listed.messages.map((message) => message.mentions), [[carol.username, bob.username]]);
    const plain = await alice.client.request('send_message', { conversation_id: group.id, content: `me@${bob.username} and @ alone` });
    assert.deepEqual(plain.mentions, []);
    await alice.client.request('delete_message', { message_id: sent.id });
    const after = await bob.client.request('get_messages', { conversation_id: group.id });
    assert.deepEqual(after.messages.map((message) => [message.id, message.mentions]), [[plain.id, []], [sent.id, []]]);
  });

  await t.test('admin_notify: to some users or all, every device of theirs, rate limited', async () => {
    const boss = await person(server, 'boss');
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [built('src/admin.ts'), ...args], { env: { ...process.env, ...server.env } });
    await expectError(boss.client, { type: 'admin_notify', all: true, title: 't', body: 'b' }, 'only admins can use admin_notify', 'forbidden');
    await cli('grant-admin', boss.username);
    const erin = await person(server, 'erin');
    const subscription = service.subscribe();
    await erin.client.request('register_device', { kind: 'webpush', subscription });
    const notice = await boss.client.request('admin_notify', { usernames: [erin.username], title: 'Maintenance', body: 'Tonight at 10' });
    assert.equal(notice.devices, 1);
    const [got] = await waitForPushes(service, subscription, 1);
    assert.deepEqual(got!.payload, { kind: 'notice', notice_id: notice.notice_id, title: 'Maintenance', body: 'Tonight at 10' });
    assert.equal(got!.topic, undefined);
    await expectError(boss.client, { type: 'admin_notify', title: 't', body: 'b' }, 'give usernames or all: true (one of them)', 'bad_request');
    await expectError(boss.client, { type: 'admin_notify', usernames: [erin.username], all: true, title: 't', body: 'b' }, 'give usernames or all: true (one of them)', 'bad_request');
    await expectError(boss.client, { type: 'admin_notify', usernames: ['nobody_here'], title: 't', body: 'b' }, "no such user 'nobody_here' exists", 'not_found');
    await expectError(boss.client, { type: 'admin_notify', all: true, title: '', body: 'b' }, 'title must not be empty', 'bad_request');
    const everyone = await boss.client.request('admin_notify', { all: true, title: 'Hello', body: 'all of you' });
    assert.ok(everyone.devices >= 2, `${everyone.devices} devices`);
    await waitForPushes(service, subscription, 2);
    for (let i = 2; i < 10; i++) await boss.client.request('admin_notify', { usernames: [erin.username], title: `n${i}`, body: 'b' });
    await expectError(boss.client, { type: 'admin_notify', usernames: [erin.username], title: 'one more', body: 'b' }, 'at most 10 notices an hour: retry in 60 min', 'rate_limited');
  });

  await t.test('revoking a session removes its devices', async () => {
    const gina = await person(server, 'gina');
    const other = await socket(server, await login(server, gina.username));
    await other.client.request('register_device', { kind: 'webhook', token: 'gina-phone' });
    const sessions = await gina.client.request('get_sessions');
    const current = (await other.client.request('get_sessions')).find((session) => session.current)!;
    assert.equal(sessions.length, 2);
    await gina.client.request('revoke_session', { session_id: current.id });
    assert.deepEqual(await gina.client.request('get_devices'), []);
  });
});

test('notifications queued when the server is killed (SIGKILL) go out after the restart, each exactly once', async (t) => {
  const setup = await pushServer(t);
  const { server, service } = setup;
  const alice = await person(server, 'alice');
  const away: Away[] = [];
  for (let i = 0; i < 5; i++) away.push(await awayWithDevice(setup, 'kept'));
  const group = await alice.client.request('create_conversation', { name: 'crash', members: away.map((someone) => someone.username) });
  await drained(server);
  // The push service is unavailable for a while: every notification of the next message is queued for a retry.
  for (const someone of away) service.reply(someone.subscription, { status: 503, retryAfter: '3' });
  const sent = await alice.client.request('send_message', { conversation_id: group.id, content: 'before the crash' });
  const refusedAll = Date.now() + 10_000;
  while (service.requests.filter((item) => item.status === 503).length < away.length) {
    assert.ok(Date.now() < refusedAll, 'each device was tried once');
    await sleep(20);
  }
  await sleep(300); // the retries are written down; none is due for 3 s
  assert.equal(await server.stop('SIGKILL'), 'SIGKILL');

  // The same database, keys and push service; the service answers again.
  const restarted = await startServer(t, server.env, setup.home);
  await waitForPushes(service, away[0]!.subscription, 2);
  await drained(restarted);
  for (const someone of away) {
    const got = receivedBy(service, someone.subscription);
    assert.deepEqual(got.map((item) => (item.payload as { kind: string }).kind), ['added', 'message'], someone.username);
    assert.equal((got[1]!.payload as { preview: string }).preview, sent.content);
  }
  assert.deepEqual(service.rejected, []);
});
