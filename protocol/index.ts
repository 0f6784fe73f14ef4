// The Parley wire protocol: every event, push and envelope, and the types derived from them.
import * as v from 'valibot';
import * as system from './events/system.ts';
import * as users from './events/users.ts';
import * as contacts from './events/contacts.ts';
import * as conversations from './events/conversations.ts';
import * as messages from './events/messages.ts';
import * as sync from './events/sync.ts';
import { limits, type EventSpec, type PushSpec } from './spec.ts';
import type { ErrorCode } from './errors.ts';

export const events = {
  ping: system.ping,
  self: users.self,
  add_contact: contacts.add_contact,
  get_contacts: contacts.get_contacts,
  create_conversation: conversations.create_conversation,
  get_conversations: conversations.get_conversations,
  get_conversation_info: conversations.get_conversation_info,
  send_message: messages.send_message,
  get_messages: messages.get_messages,
  sync: sync.sync,
} as const satisfies Record<string, EventSpec>;

export const pushes = {
  user_status: {
    summary: 'A contact came online (their first socket opened) or went offline (their last socket closed).',
    data: v.object({ username: v.string(), is_online: v.boolean() }),
    to: 'every socket of each online contact; never to the user themself',
  },
  contact_added: {
    summary: 'Someone added you as a contact, or you added someone from another socket.',
    data: v.object({ contact: users.User }),
    to: 'every socket of the added user (naming the adder) and the adder\'s other sockets (naming the added user)',
  },
  create_conversation: {
    summary: 'A conversation you are a member of was created; the same envelope as the creator\'s reply, without `ref`.',
    data: conversations.Conversation,
    to: 'every socket of every member except the creator\'s requesting socket',
  },
  send_message: {
    summary: 'A message was sent to a conversation you are a member of; the same envelope as the sender\'s reply, without `ref`.',
    data: messages.send_message.reply,
    to: 'every socket of every member except the sender\'s requesting socket',
  },
} as const satisfies Record<string, PushSpec>;

export type EventType = keyof typeof events;
export type PushType = keyof typeof pushes;
/** The fields a client sends for an event (besides `type` and `ref`). */
export type EventInput<T extends EventType> = v.InferInput<(typeof events)[T]['request']>;
/** The fields a handler receives once the request has been validated. */
export type EventRequest<T extends EventType> = v.InferOutput<(typeof events)[T]['request']>;
/** The `data` of a success reply. */
export type EventReply<T extends EventType> = v.InferOutput<(typeof events)[T]['reply']>;
export type PushData<T extends PushType> = v.InferOutput<(typeof pushes)[T]['data']>;

/** Correlates a reply with its request: echoed as given. */
export const Ref = v.union([
  v.pipe(v.string(), v.maxLength(limits.ref)),
  v.pipe(v.number(), v.safeInteger()),
]);
export type Ref = v.InferOutput<typeof Ref>;

export type SuccessEnvelope<T extends string = string, D = unknown> = { type: T; success: true; data: D; ref?: Ref };
export type ErrorEnvelope<T extends string = string> = { type: T; success: false; error: string; code: ErrorCode; ref?: Ref };
export type Envelope = SuccessEnvelope | ErrorEnvelope;

export { errors, errorCodes, closeCodes, errorText } from './errors.ts';
export type { ErrorCode, ErrorName, CloseName } from './errors.ts';
export { limits } from './spec.ts';
export type { EventSpec, PushSpec } from './spec.ts';
export { User } from './events/users.ts';
