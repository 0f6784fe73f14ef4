// Logged events: appending one to the event log for its audience, and delivering it once committed.
import { conversationTopic } from './registry.ts';
import type { Audience } from './features/handler.ts';
import { eventText } from './envelope.ts';
import type { App } from './context.ts';
import type { Connection } from './transport/connection.ts';

/** Appends an event for its audience (inside the open batch): its seq, and its data serialised once. */
export function logEvent(ctx: Pick<App, 'store' | 'now'>, type: string, data: unknown, audience: Audience): { seq: number; dataText: string } {
  const dataText = JSON.stringify(data);
  const now = ctx.now();
  if (!('conversation' in audience)) return { seq: ctx.store.events.forUsers([...audience.users], type, dataText, now), dataText };
  const { conversation, joined = [], left = [], message = null, actor = null } = audience;
  const seq = ctx.store.events.forConversation(conversation, type, dataText, now, message, actor);
  // Members who join see the conversation's events from this one on; those who leave, up to this one.
  for (const userId of joined) ctx.store.members.openPeriod(conversation, userId, seq);
  for (const userId of left) ctx.store.members.closePeriod(conversation, userId, seq);
  return { seq, dataText };
}

/** Members of the audience's conversation not to be shown an event: those who blocked its actor. */
export function hiddenFrom(ctx: Pick<App, 'store'>, audience: Audience): ReadonlySet<number> {
  if (!('conversation' in audience) || audience.actor === undefined) return noOne;
  const blockers = ctx.store.contacts.blockersIn(audience.conversation, audience.actor);
  return blockers.length ? new Set(blockers) : noOne;
}
const noOne: ReadonlySet<number> = new Set();

/** Sends a logged event's envelope to its audience's sockets but `skip` (after the commit). */
export function deliver(ctx: Pick<App, 'registry' | 'store'>, audience: Audience, text: string, skip?: Connection): void {
  if (!('conversation' in audience)) return ctx.registry.push(audience.users, text, skip);
  const topic = conversationTopic(audience.conversation);
  if (audience.joined) ctx.registry.subscribe(audience.joined, topic);
  const hidden = hiddenFrom(ctx, audience);
  // One publish to the topic; only when someone blocked the actor is it sent member by member.
  if (hidden.size === 0) ctx.registry.publish(topic, text, skip);
  else ctx.registry.push(ctx.store.conversations.members(audience.conversation).flatMap(({ id }) => (hidden.has(id) ? [] : [id])), text, skip);
  if (audience.left) ctx.registry.unsubscribe(audience.left, topic);
}

/** An event besides a request's reply: logged in the open batch, delivered once it is committed. */
export function logAndDeliver(app: Pick<App, 'store' | 'now' | 'commit' | 'registry'>, type: string, data: unknown, audience: Audience, skip?: Connection): void {
  const { seq, dataText } = logEvent(app, type, data, audience);
  const text = eventText(type, dataText, seq);
  app.commit.after((committed) => committed && deliver(app, audience, text, skip));
}
