// The notification payload: small, its texts cut, its urgency and Topic right, and under the 4 KiB a
// push service takes once encrypted, whatever the inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import webpush from 'web-push';
import { cut, payloadOf, preview, previewLength, topicOf, urgencyOf } from '../src/push/payload.ts';
import { outboxKey } from '../src/push/outbox.ts';
import type { ConversationRef, Notification } from '../src/push/types.ts';
import { decrypt } from './helpers/push-service.ts';

const team: ConversationRef = { id: 7, name: 'Team', direct: false };
const direct: ConversationRef = { id: 8, name: 'Bob', direct: true };

test('each kind of notification carries what a service worker needs to show it', () => {
  assert.deepEqual(payloadOf({ kind: 'message', conversation: team, sender: 'alice', preview: 'hello' }, 3), {
    kind: 'message', conversation_id: 7, conversation_name: 'Team', direct: false, sender: 'alice', unread: 3, preview: 'hello',
  });
  assert.deepEqual(payloadOf({ kind: 'mention', conversation: team, sender: 'alice', preview: null }, 1), {
    kind: 'mention', conversation_id: 7, conversation_name: 'Team', direct: false, sender: 'alice', unread: 1, preview: null,
  });
  assert.deepEqual(payloadOf({ kind: 'message', conversation: team, sender: 'alice', preview: 'in the thread', thread_id: 12 }, 2), {
    kind: 'message', conversation_id: 7, conversation_name: 'Team', direct: false, sender: 'alice', unread: 2, preview: 'in the thread', thread_id: 12,
  }, 'a reply in a thread names its thread');
  assert.deepEqual(payloadOf({ kind: 'reaction', conversation: direct, sender: 'bob', emoji: '🎉', preview: 'my news' }, 0), {
    kind: 'reaction', conversation_id: 8, conversation_name: 'Bob', direct: true, sender: 'bob', unread: 0, emoji: '🎉', preview: 'my news',
  });
  assert.deepEqual(payloadOf({ kind: 'added', conversation: team, sender: 'carol' }, 12), {
    kind: 'added', conversation_id: 7, conversation_name: 'Team', direct: false, sender: 'carol', unread: 12,
  });
  assert.deepEqual(payloadOf({ kind: 'direct', conversation: direct, sender: 'bob' }, 1), {
    kind: 'direct', conversation_id: 8, conversation_name: 'Bob', direct: true, sender: 'bob', unread: 1,
  });
  assert.deepEqual(payloadOf({ kind: 'notice', id: 4, title: 'Maintenance', body: 'Tonight at 22:00' }, null), {
    kind: 'notice', notice_id: 4, title: 'Maintenance', body: 'Tonight at 22:00',
  });
});

test('a preview is cut to 200 characters, never through a character; PUSH_PREVIEW=false keeps none', () => {
  assert.equal(preview('short', true), 'short');
  assert.equal(preview('x'.repeat(200), true), 'x'.repeat(200));
  assert.equal(preview('x'.repeat(201), true), `${'x'.repeat(199)}…`);
  assert.equal(preview('😀'.repeat(300), true), `${'😀'.repeat(199)}…`, 'code points, not halves of surrogate pairs');
  assert.equal(preview('a secret', false), null);
  assert.equal(previewLength, 200);
  assert.equal(cut('abcdef', 4), 'abc…');
});

test('direct messages, new direct conversations and mentions are high urgency; the rest normal', () => {
  const cases: [Notification, string][] = [
    [{ kind: 'message', conversation: direct, sender: 'bob', preview: 'hi' }, 'high'],
    [{ kind: 'message', conversation: team, sender: 'bob', preview: 'hi' }, 'normal'],
    [{ kind: 'mention', conversation: team, sender: 'bob', preview: '@me' }, 'high'],
    [{ kind: 'direct', conversation: direct, sender: 'bob' }, 'high'],
    [{ kind: 'added', conversation: team, sender: 'bob' }, 'normal'],
    [{ kind: 'reaction', conversation: direct, sender: 'bob', emoji: '👍', preview: 'x' }, 'normal'],
    [{ kind: 'notice', id: 1, title: 't', body: 'b' }, 'normal'],
  ];
  for (const [notification, urgency] of cases) assert.equal(urgencyOf(notification), urgency, notification.kind);
});

test('the Topic names a conversation (or a thread) to the push service without giving its id away', () => {
  const key = randomBytes(32);
  const message = (conversation: ConversationRef, thread?: number): Notification => ({ kind: 'message', conversation, sender: 'a', preview: null, ...(thread !== undefined && { thread_id: thread }) });
  const topic = topicOf(outboxKey(message(team)), key)!;
  assert.match(topic, /^[A-Za-z0-9_-]{32}$/, 'at most 32 base64url characters (RFC 8030)');
  assert.equal(topicOf(outboxKey({ kind: 'mention', conversation: team, sender: 'b', preview: 'x' }), key), topic, 'one topic for all of a conversation');
  assert.notEqual(topicOf(outboxKey(message(direct)), key), topic);
  assert.notEqual(topicOf(outboxKey(message(team)), randomBytes(32)), topic, 'another server, another topic');
  assert.equal(outboxKey(message(team, 12)), 'thread:12', 'a reply that stays in its thread is kept apart');
  assert.notEqual(topicOf(outboxKey(message(team, 12)), key), topic);
  assert.equal(topicOf(outboxKey({ kind: 'notice', id: 1, title: 't', body: 'b' }), key), undefined);
});

test('encrypted, the longest payloads stay under the 4,096 bytes of Web Push, and decrypt to what was built', () => {
  const browser = createECDH('prime256v1');
  const subscription = { endpoint: 'https://fcm.googleapis.com/fcm/send/x', keys: { p256dh: browser.generateKeys('base64url'), auth: randomBytes(16).toString('base64url') } };
  const auth = Buffer.from(subscription.keys.auth, 'base64url');
  // Characters that cost the most bytes: control characters (\u0001 in JSON), quotes, 3-byte and 4-byte UTF-8.
  let largest = 0;
  for (const char of ['\u0001', '"', '€', '😀']) {
    const long = char.repeat(5000);
    const conversation = { id: Number.MAX_SAFE_INTEGER, name: long, direct: true };
    const notifications: Notification[] = [
      { kind: 'message', conversation, sender: long, preview: long },
      { kind: 'reaction', conversation, sender: long, emoji: long, preview: long },
      { kind: 'notice', id: Number.MAX_SAFE_INTEGER, title: long, body: long },
    ];
    for (const notification of notifications) {
      const payload = payloadOf(notification, 100);
      const details = webpush.generateRequestDetails(subscription, JSON.stringify(payload), {
        vapidDetails: { subject: 'mailto:ops@example.com', ...webpush.generateVAPIDKeys() },
      });
      largest = Math.max(largest, details.body.length);
      assert.ok(details.body.length <= 4096, `${notification.kind} with ${JSON.stringify(char)}: ${details.body.length} bytes`);
      assert.deepEqual(JSON.parse(decrypt(details.body, { ecdh: browser, auth }).toString('utf8')), payload);
    }
  }
  assert.ok(largest > 2000, `the worst case was exercised (${largest} bytes)`);
});
