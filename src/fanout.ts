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
  const { conversation, joined = [], left = [], message = null } = audience;
  const seq = ctx.store.events.forConversation(conversation, type, dataText, now, message);
  // Members who join see the conversation's events from this one on; those who leave, up to this one.
  for (const userId of joined) ctx.store.members.openPeriod(conversation, userId, seq);
  for (const userId of left) ctx.store.members.closePeriod(conversation, userId, seq);
  return { seq, dataText };
}

/** Sends a logged event's envelope to its audience's sockets but `skip` (after the commit). */
export function deliver(ctx: Pick<App, 'registry'>, audience: Audience, text: string, skip?: Connection): void {
  if (!('conversation' in audience)) return ctx.registry.push(audience.users, text, skip);
  const topic = conversationTopic(audience.conversation);
  if (audience.joined) ctx.registry.subscribe(audience.joined, topic);
  ctx.registry.publish(topic, text, skip);
  if (audience.left) ctx.registry.unsubscribe(audience.left, topic);
}

/** An event besides a request's reply: logged in the open batch, delivered once it is committed. */
export function logAndDeliver(app: Pick<App, 'store' | 'now' | 'commit' | 'registry'>, type: string, data: unknown, audience: Audience, skip?: Connection): void {
  const { seq, dataText } = logEvent(app, type, data, audience);
  const text = eventText(type, dataText, seq);
  app.commit.after((committed) => committed && deliver(app, audience, text, skip));
}
