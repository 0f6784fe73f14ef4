// The words of push notifications: devices, what a notification says, and how one delivery attempt ended.

/** What a browser's `PushSubscription.toJSON()` gives, checked (endpoints.ts): keys are base64url. */
export type Subscription = { endpoint: string; keys: { p256dh: string; auth: string } };

/** A device notifications go to: a browser's Web Push subscription, or a native app reached through the operator's webhook. */
export type Device =
  | { id: number; userId: number; kind: 'webpush'; subscription: Subscription }
  | { id: number; userId: number; kind: 'webhook'; token: string; platform: string | null };

/** The conversation a notification is about, as its recipient sees it. */
export type ConversationRef = { id: number; name: string; direct: boolean };

/**
 * What a notification says, as queued. `preview` is already cut (payload.ts `preview`), or null with
 * PUSH_PREVIEW=false. `thread_id`: the message is a reply in that thread (its root); queued so, it is one
 * that stays in its thread, kept apart from the conversation's (see `outboxKey`). `notice` is an
 * administrator's notification to users.
 */
export type Notification =
  | { kind: 'message' | 'mention'; conversation: ConversationRef; sender: string; preview: string | null; thread_id?: number }
  | { kind: 'reaction'; conversation: ConversationRef; sender: string; emoji: string; preview: string | null }
  | { kind: 'added' | 'direct' | 'invited'; conversation: ConversationRef; sender: string }
  | { kind: 'notice'; id: number; title: string; body: string };

export type NotificationKind = Notification['kind'];

export type Urgency = 'normal' | 'high';

/**
 * How one delivery attempt ended. `retry`: the network failed, or the service answered 5xx or 429
 * (`afterMs` from its Retry-After); `gone`: 404 or 410, the subscription or token no longer exists and
 * the device is removed; `refused`: any other answer but 2xx, this notification is never sent again.
 */
export type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; reason: string; status?: number; afterMs?: number }
  | { kind: 'gone'; status: number }
  | { kind: 'refused'; reason: string; status?: number };
