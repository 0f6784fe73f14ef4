// Logged events: appending one to the event log for its audience (and working out, in the same unit of
// work, who may receive it), and delivering it once committed — or, in a cluster, once another node
// committed it and this node's follower found it in the log.
import { conversationTopic } from '../registry.ts';
import { personal, personalise } from './views.ts';
import type { FollowedEvent } from '../storage/postgres/followed.ts';
import { shownBothWays } from '../storage/stores/events.ts';
import { placeholder } from '../storage/engine/journal.ts';
import { eventText } from '../envelope.ts';
import type { Store } from '../storage/index.ts';
import type { Job } from '../storage/engine/commit.ts';
import type { Registry } from '../registry.ts';
import type { Ordering } from '../ordering.ts';
import type { Connection } from '../connection.ts';

/**
 * Who else receives a success event: every socket of these users, or of a conversation's members.
 * For a conversation, `joined` start seeing its events with this one and `left` stop after it (their
 * sockets are subscribed before it is pushed and unsubscribed after); `message` names the message
 * the event is about, so that deleting or editing it can scrub the log; `actor` is the person whose
 * doing it is (a sender, a reactor, the member a receipt is about): members who blocked them are not
 * shown it, nor, for an event that shows the actor's presence (`shownBothWays`: a receipt), members the
 * actor blocked (`blocking`: those members, when the handler knows them already).
 */
export type Audience =
  | { readonly users: Iterable<number> }
  | {
    readonly conversation: number; readonly joined?: readonly number[]; readonly left?: readonly number[]; readonly message?: number; readonly actor?: number;
    readonly blocking?: readonly number[];
  };

/** What logging and delivering an event needs of the app: a unit of work's store and job, the clock, the sockets, the order of delivery. */
type Scope = { readonly store: Store; readonly job: Job<Store>; now(): number; readonly registry: Registry; readonly ordering: Ordering };

/**
 * A logged event: its seq (0 until its batch numbers it, just before the COMMIT), its data serialised
 * once, and when some members may not see it, who may.
 */
export type Logged = { seq: number; dataText: string; only?: readonly number[] };

/**
 * Members of the audience's conversation not to be shown an event of this type: those who blocked its
 * actor, and for an event shown both ways (a receipt) those its actor blocked (known already, or asked).
 */
async function hiddenFrom(app: Pick<Scope, 'store'>, type: string, audience: Audience): Promise<ReadonlySet<number>> {
  if (!('conversation' in audience) || audience.actor === undefined) return noOne;
  const { contacts } = app.store;
  const blocking = audience.blocking ?? (await (shownBothWays.includes(type) ? contacts.blockingIn : contacts.blockersIn)(audience.conversation, audience.actor));
  return blocking.length ? new Set(blocking) : noOne;
}
const noOne: ReadonlySet<number> = new Set();
const none: readonly number[] = [];

/** The members of the audience's conversation who may see its event, by id and username (for events each reader sees their own way). */
export async function readersOf(app: Pick<Scope, 'store'>, type: string, audience: Audience & { conversation: number }): Promise<{ id: number; username: string }[]> {
  const hidden = await hiddenFrom(app, type, audience);
  return (await app.store.conversations.members(audience.conversation)).filter(({ id }) => !hidden.has(id));
}

/**
 * Logs an event for its audience (inside the unit of work): it is numbered and appended at the batch's
 * end; what is returned carries its seq from then on, its data serialised once, and who may see it.
 */
export async function logEvent(app: Pick<Scope, 'store' | 'now' | 'job'>, type: string, data: unknown, audience: Audience): Promise<Logged> {
  const dataText = JSON.stringify(data);
  const logged: Logged = { seq: 0, dataText };
  const createdAt = app.now();
  if (!('conversation' in audience)) {
    app.job.log({ conversationId: null, users: [...audience.users], type, dataText, createdAt, messageId: null, actorId: null, joined: none, left: none, key: 0, logged });
    return logged;
  }
  const { conversation, joined = none, left = none, message = null, actor = null } = audience;
  const key = app.job.log({ conversationId: conversation, users: none, type, dataText, createdAt, messageId: message, actorId: actor, joined, left, key: 0, logged });
  // Members who join see the conversation's events from this one on; those who leave, up to this one.
  for (const userId of joined) await app.store.members.openPeriod(conversation, userId, placeholder(key));
  for (const userId of left) await app.store.members.closePeriod(conversation, userId, placeholder(key));
  const hidden = await hiddenFrom(app, type, audience);
  if (hidden.size === 0) return logged;
  // Someone blocked the actor: the event goes member by member, not to the conversation's topic.
  logged.only = (await app.store.conversations.members(conversation)).flatMap(({ id }) => (hidden.has(id) ? [] : [id]));
  return logged;
}

/** Sends a logged event's envelope to its audience's sockets but `skip` (after the commit). */
export function deliver(app: Pick<Scope, 'registry'>, audience: Audience, text: string, only: readonly number[] | undefined, skip?: Connection): void {
  if (!('conversation' in audience)) return app.registry.push(audience.users, text, skip);
  const topic = conversationTopic(audience.conversation);
  if (audience.joined) app.registry.subscribe(audience.joined, topic);
  if (only) app.registry.push(only, text, skip);
  else app.registry.publish(topic, text, skip);
  if (audience.left) app.registry.unsubscribe(audience.left, topic);
}

/** An event besides a request's reply: logged in the unit of work, delivered once it is committed. */
export async function logAndDeliver(app: Scope, type: string, data: unknown, audience: Audience, skip?: Connection): Promise<void> {
  const logged = await logEvent(app, type, data, audience);
  app.job.after((committed) => committed && app.ordering.committed(logged.seq, () => deliver(app, audience, eventText(type, logged.dataText, logged.seq), logged.only, skip)));
}

/** Calls `send` once per reader online here with the event as that reader sees it, serialised once per distinct view. */
export function eachView(app: Pick<Scope, 'registry'>, type: string, data: unknown, readers: readonly { id: number; username: string }[], seq: number, send: (readerId: number, text: string) => void): void {
  const texts = new Map<string, string>();
  for (const reader of readers) {
    if (!app.registry.isOnline(reader.id)) continue;
    const dataText = JSON.stringify(personalise(type, data, reader.username));
    let text = texts.get(dataText);
    if (text === undefined) texts.set(dataText, (text = eventText(type, dataText, seq)));
    send(reader.id, text);
  }
}

/**
 * Delivers an event another node committed to this node's sockets of those who may see it, as `sync`
 * would find them: as this node delivers its own, through the conversation's topic (serialised once,
 * written by uWebSockets.js) unless some members may not see it or each reader sees it their own way.
 */
export function deliverFollowed(app: Pick<Scope, 'registry'>, event: FollowedEvent): void {
  const { seq, type, data, conversation, readers, joined, left } = event;
  const topic = conversation === null ? undefined : conversationTopic(conversation);
  if (topic) app.registry.subscribe(joined, topic);
  if (readers === null) app.registry.publish(topic!, eventText(type, data, seq));
  else if (personal.has(type)) eachView(app, type, JSON.parse(data), readers, seq, (readerId, text) => app.registry.push([readerId], text));
  else app.registry.push(readers.map((reader) => reader.id), eventText(type, data, seq));
  if (topic) app.registry.unsubscribe(left, topic);
}
