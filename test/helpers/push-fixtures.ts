// What the push tests share: VAPID keys made for a test, a quiet logger, and a claimed outbox item built by hand.
import webpush from 'web-push';
import { createLogger } from '../../src/log.ts';
import type { OutboxItem } from '../../src/push/outbox.ts';
import { outboxKey } from '../../src/push/outbox.ts';
import type { Device, Notification } from '../../src/push/types.ts';
import { loadVapid, type Vapid } from '../../src/push/vapid.ts';

export const silentLog = createLogger('silent');

export const webhookSecret = 'a webhook secret of at least 32 characters';

/** A fresh VAPID key pair, as VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY would give it. */
export function testVapid(): Vapid {
  const pair = webpush.generateVAPIDKeys();
  return loadVapid({ VAPID_PUBLIC_KEY: pair.publicKey, VAPID_PRIVATE_KEY: pair.privateKey, VAPID_SUBJECT: 'mailto:ops@chat.example.com', DBPATH: '/nonexistent/parley.db' }, silentLog);
}

/** An item as a claim would return it, for sending without an outbox. */
export function itemFor(device: Device, notification: Notification, overrides: Partial<OutboxItem> = {}): OutboxItem {
  return { device, key: outboxKey(notification), notification, unread: 1, version: 1, queuedAt: Date.now(), attempts: 1, lease: 'by hand', ...overrides };
}
