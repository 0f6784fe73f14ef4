// What a notification carries to a device: a small JSON object, its Urgency and the Topic that lets a
// push service replace an older notification about the same conversation.
import { createHmac } from 'node:crypto';
import type { Notification, Urgency } from './types.ts';

/** Characters of a message a notification shows at most (a longer one is cut and ends with "…"). */
export const previewLength = 200;
/** Longest conversation name, sender, emoji and notice title a payload carries (Parley's own limits are within these). */
const nameLength = 100;
const senderLength = 64;
const emojiLength = 32;

/** `text` cut to at most `length` characters (code points, never half a pair), with "…" when cut. */
export function cut(text: string, length: number): string {
  const points = Array.from(text);
  return points.length <= length ? text : `${points.slice(0, length - 1).join('')}…`;
}

/** The preview a notification shows of a message when it is sent: cut, or none at all with PUSH_PREVIEW=false. */
export function preview(text: string, enabled: boolean): string | null {
  return enabled ? cut(text, previewLength) : null;
}

/**
 * The `preview` a notification about a message is queued with: '' (filled from the message as it is
 * when the notification goes), or null with PUSH_PREVIEW=false. The outbox keeps no text of a message.
 */
export const previewLater = (enabled: boolean): '' | null => (enabled ? '' : null);

/** High for what someone is waiting on: a direct message, a new direct conversation, a mention. */
export function urgencyOf(notification: Notification): Urgency {
  if (notification.kind === 'mention' || notification.kind === 'direct') return 'high';
  return notification.kind === 'message' && notification.conversation.direct ? 'high' : 'normal';
}

/**
 * The Web Push `Topic` of an outbox row's key, a conversation or a thread (RFC 8030: at most 32 base64url
 * characters): the push service keeps only the newest undelivered notification with the same topic.
 * Keyed, so the push service learns which notifications belong together but not the conversation's id.
 * Notices have none.
 */
export function topicOf(outboxKey: string, topicKey: Buffer): string | undefined {
  if (outboxKey.startsWith('notice:')) return undefined;
  return createHmac('sha256', topicKey).update(outboxKey).digest().subarray(0, 24).toString('base64url');
}

/** The JSON object a service worker gets (`event.data.json()`) and a webhook's `notification`. */
export type Payload = Record<string, string | number | boolean | null>;

/**
 * The payload of a notification; `unread` is the conversation's unread count when it was sent. Every
 * text is bounded, so the whole stays well under the 4,096 bytes a push service accepts encrypted.
 */
export function payloadOf(notification: Notification, unread: number | null): Payload {
  if (notification.kind === 'notice') {
    return { kind: 'notice', notice_id: notification.id, title: cut(notification.title, nameLength), body: cut(notification.body, previewLength) };
  }
  const { conversation } = notification;
  const common: Payload = {
    kind: notification.kind,
    conversation_id: conversation.id,
    conversation_name: cut(conversation.name, nameLength),
    direct: conversation.direct,
    sender: cut(notification.sender, senderLength),
    unread,
  };
  switch (notification.kind) {
    case 'message':
    case 'mention':
      return {
        ...common, preview: notification.preview === null ? null : cut(notification.preview, previewLength),
        ...(notification.thread_id !== undefined && { thread_id: notification.thread_id }),
      };
    case 'reaction':
      return { ...common, emoji: cut(notification.emoji, emojiLength), preview: notification.preview === null ? null : cut(notification.preview, previewLength) };
    case 'added':
    case 'direct':
    case 'invited':
      return common;
  }
}
