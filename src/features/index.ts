// The handler table: every event type the server answers, each with its schema and handler.
import type { Handlers } from './handler.ts';
import { systemHandlers } from './system.ts';
import { userHandlers } from './users.ts';
import { contactHandlers } from './contacts.ts';
import { conversationHandlers } from './conversations.ts';
import { messageHandlers } from './messages.ts';
import { syncHandlers } from './sync.ts';

export const handlers = {
  ...systemHandlers,
  ...userHandlers,
  ...contactHandlers,
  ...conversationHandlers,
  ...messageHandlers,
  ...syncHandlers,
} satisfies Handlers;

export type { AnyHandler } from './handler.ts';
