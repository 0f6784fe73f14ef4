// Receipts: delivered and read points per member, gathered and pushed as one `receipt` per member that moved.
import { events, limits } from '../../protocol/index.ts';
import { eventText } from '../envelope.ts';
import { fail } from '../errors.ts';
import { conversationTopic } from '../registry.ts';
import { memberOf, visibleMessage } from './membership.ts';
import type { App } from '../context.ts';
import type { Handlers } from './handler.ts';

type Pending = {
  /** The newest message published to the conversation: delivered to every member online. */
  sent: number;
  /** Members handed messages by get_messages: up to which. */
  fetched: Map<number, number>;
  /** Members whose read point moved. */
  read: Set<number>;
};

export type Receipts = ReturnType<typeof createReceipts>;

/**
 * Points move at once in the database (read) or at the next flush (delivered); the pushes wait
 * `receiptDelayMs`, so a burst of messages makes one receipt per member rather than one per message.
 */
export function createReceipts(app: Pick<App, 'store' | 'commit' | 'registry' | 'log' | 'now'>) {
  let pending = new Map<number, Pending>();
  let timer: NodeJS.Timeout | undefined;

  function entry(conversationId: number): Pending {
    let found = pending.get(conversationId);
    if (!found) pending.set(conversationId, (found = { sent: 0, fetched: new Map(), read: new Set() }));
    timer ??= setTimeout(flush, limits.receiptDelayMs).unref();
    return found;
  }

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = new Map();
    const receipts: { conversationId: number; text: string }[] = [];
    try {
      app.commit.run(() => {
        for (const [conversationId, { sent, fetched, read }] of batch) {
          const members = app.store.members.list(conversationId);
          const pushDelivered = members.length <= limits.receiptPushMembers;
          for (const member of members) {
            const reached = Math.max(app.registry.isOnline(member.user_id) ? sent : 0, fetched.get(member.user_id) ?? 0);
            const moved = reached > member.delivered_id && app.store.members.delivered(conversationId, member.user_id, reached);
            const readMoved = read.has(member.user_id);
            if (!readMoved && !(moved && pushDelivered)) continue;
            const delivered = moved ? reached : member.delivered_id;
            const data = { conversation_id: conversationId, username: member.username, delivered_id: delivered, ...(readMoved ? { read_id: member.read_id } : {}) };
            const dataText = JSON.stringify(data);
            receipts.push({ conversationId, text: eventText('receipt', dataText, app.store.events.forConversation(conversationId, 'receipt', dataText, app.now())) });
          }
        }
      });
    } catch (error) {
      app.log.error('receipts failed', { error });
      return;
    }
    app.commit.after((committed) => {
      if (committed) for (const { conversationId, text } of receipts) app.registry.publish(conversationTopic(conversationId), text);
    });
  }

  return {
    /** A message was published to a conversation's topic. */
    sent(conversationId: number, messageId: number): void {
      const found = entry(conversationId);
      found.sent = Math.max(found.sent, messageId);
    },
    /** A member was handed a conversation's messages up to `messageId` by a request. */
    fetched(conversationId: number, userId: number, messageId: number): void {
      const found = entry(conversationId).fetched;
      found.set(userId, Math.max(found.get(userId) ?? 0, messageId));
    },
    /** A member's read point moved. */
    read(conversationId: number, userId: number): void {
      entry(conversationId).read.add(userId);
    },
    /** Pushes what is gathered now (at shutdown). */
    flush,
  };
}

export const receiptHandlers = {
  mark_read: {
    schema: events.mark_read.request,
    guard: memberOf,
    run(ctx, { conversation_id, message_id }) {
      const me = ctx.caller.user;
      const { message, member } = visibleMessage(ctx, message_id);
      if (message.conversation_id !== conversation_id) throw fail('no_such_message', { id: message_id });
      if (message_id > member.read_id) {
        ctx.store.members.read(conversation_id, me.id, message_id);
        ctx.commit.after((committed) => committed && ctx.receipts.read(conversation_id, me.id));
      }
      return { conversation_id, read_id: Math.max(member.read_id, message_id) };
    },
  },
  get_receipts: {
    schema: events.get_receipts.request,
    run(ctx, { message_id }) {
      const { message } = visibleMessage(ctx, message_id);
      const others = ctx.store.members.list(message.conversation_id).filter((member) => member.user_id !== message.sender_id);
      return {
        message_id,
        delivered: others.filter((member) => member.delivered_id >= message_id).map((member) => member.username),
        read: others.filter((member) => member.read_id >= message_id).map((member) => member.username),
      };
    },
  },
} satisfies Partial<Handlers>;
