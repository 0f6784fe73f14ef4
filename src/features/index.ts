// The handler table: every event type the server answers, each with its schema and handler.
import type { Handlers } from './handler.ts';
import { systemHandlers } from './system.ts';
import { userHandlers } from './users.ts';
import { contactHandlers } from './contacts.ts';
import { conversationHandlers } from './conversations.ts';
import { messageHandlers } from './messages.ts';
import { syncHandlers } from './sync.ts';
import { memberHandlers } from './members.ts';
import { invitationHandlers } from './invitations.ts';
import { channelHandlers } from './channels.ts';
import { searchHandlers } from './search.ts';
import { receiptHandlers } from './receipts.ts';
import { typingHandlers } from './typing.ts';
import { accountHandlers } from './account.ts';
import { twoFactorHandlers } from './two-factor.ts';
import { adminHandlers } from './admin.ts';
import { notificationHandlers } from './notifications.ts';
import { fileHandlers } from './files.ts';
import { threadHandlers } from './threads.ts';
import { botHandlers } from './bots.ts';
import { webhookHandlers } from './webhooks.ts';
import { commandHandlers } from './commands.ts';
import { retentionHandlers } from './retention.ts';
import { exportHandlers } from './exports.ts';

export const handlers = {
  ...systemHandlers,
  ...userHandlers,
  ...contactHandlers,
  ...conversationHandlers,
  ...retentionHandlers,
  ...memberHandlers,
  ...invitationHandlers,
  ...channelHandlers,
  ...messageHandlers,
  ...searchHandlers,
  ...threadHandlers,
  ...fileHandlers,
  ...receiptHandlers,
  ...typingHandlers,
  ...accountHandlers,
  ...exportHandlers,
  ...twoFactorHandlers,
  ...adminHandlers,
  ...notificationHandlers,
  ...syncHandlers,
  ...botHandlers,
  ...webhookHandlers,
  ...commandHandlers,
} satisfies Handlers;

export type { AnyHandler } from './handler.ts';
