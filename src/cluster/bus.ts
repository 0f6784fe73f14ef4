// The ephemeral bus between nodes, over Redis pub/sub: what other nodes must act on at once but is
// not in the event log — typing and user_status pushes, and closing the sockets of a session or a
// user. Messages are plain data (who, which sockets), never code; what was published while Redis or
// a node was away is lost, which is acceptable for these alone.
import * as v from 'valibot';
import type { Logger } from '../log.ts';
import { keys } from './lua.ts';
import { RedisUnavailable, type RedisLink } from './redis.ts';

const id = v.pipe(v.number(), v.integer(), v.minValue(1));

/** Bounds a message from Redis is held to: a bad or hostile publisher cannot make a node do unbounded work. */
export const busLimits = { users: 100_000, sessions: 10_000, text: 1024 * 1024, reason: 123, message: 8 * 1024 * 1024 } as const;

export const BusMessageSchema = v.variant('kind', [
  /** A serialised push (one text, as every node would have made it) for every socket of these users on the node. */
  v.strictObject({
    kind: v.literal('push'),
    event: v.picklist(['typing', 'user_status', 'command_failed']),
    users: v.pipe(v.array(id), v.maxLength(busLimits.users)),
    text: v.pipe(v.string(), v.maxLength(busLimits.text)),
  }),
  /** Close these sockets on the node with a close code and reason: of these sessions, or all of a user's. */
  v.strictObject({
    kind: v.literal('close'),
    target: v.union([
      v.strictObject({ sessions: v.pipe(v.array(v.pipe(v.string(), v.maxLength(128))), v.maxLength(busLimits.sessions)) }),
      v.strictObject({ user: id }),
    ]),
    code: v.pipe(v.number(), v.integer(), v.minValue(1000), v.maxValue(4999)),
    reason: v.pipe(v.string(), v.maxLength(busLimits.reason)),
  }),
]);

export type BusMessage = v.InferOutput<typeof BusMessageSchema>;

/**
 * `from`: the sending node's id, or `<id>/all` for a message to every node, the sender included, so
 * that all of them hear it in the one order Redis gives (no node id has a "/"; a node of an earlier
 * version, whose envelope has no more fields than these, takes it as another node's, which it is).
 */
const Envelope = v.strictObject({ from: v.string(), message: BusMessageSchema });
const toAll = (nodeId: string) => `${nodeId}/all`;

export type Bus = Awaited<ReturnType<typeof createBus>>;

/**
 * Subscribes (on a connection of its own) and resolves once subscribed. A node acts on its own
 * messages itself, before or after publishing: `on` hears only the other nodes', and those sent to all.
 */
export async function createBus(options: { link: RedisLink; nodeId: string; log: Logger }) {
  const { link, nodeId, log } = options;
  /** The cluster's own channel: pub/sub channels are not keys, so the client does not prefix them. */
  const channel = `${link.namespace}${keys.bus}`;
  const listeners = new Set<(message: BusMessage, from: string) => void>();
  const subscriber = link.subscriber();
  subscriber.on('error', () => {}); // outages are reported by the link's own connection
  const restored = new Set<() => void>();
  let subscribed = false;
  /** Whether this connection is subscribed now (as far as it can tell: ioredis subscribes again as it gets ready). */
  let listening = false;
  subscriber.on('close', () => (listening = false));
  subscriber.on('ready', () => {
    // ioredis subscribes again by itself on a new connection; what was published meanwhile is lost.
    if (!subscribed) return;
    listening = true;
    for (const listener of restored) listener();
  });
  subscriber.on('message', (_channel: string, raw: string) => {
    // Well past the longest valid one (every bound above at once, with JSON's escapes): not even parsed.
    if (raw.length > busLimits.message) {
      log.warn('bus message dropped', { why: 'too long', bytes: raw.length });
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      log.warn('bus message dropped', { why: 'not JSON', bytes: raw.length });
      return;
    }
    const result = v.safeParse(Envelope, parsed);
    if (!result.success) {
      log.warn('bus message dropped', { why: result.issues[0].message, bytes: raw.length });
      return;
    }
    const { from, message } = result.output;
    if (from === nodeId) return;
    for (const listener of listeners) {
      try {
        listener(message, from);
      } catch (error) {
        log.error('bus listener failed', { error, kind: message.kind });
      }
    }
  });
  try {
    if (subscriber.status !== 'ready') await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('REDIS_URL: the bus could not connect to Redis within 5 s')), 5000);
      subscriber.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await subscriber.subscribe(channel);
    subscribed = listening = true;
  } catch (error) {
    subscriber.disconnect();
    throw error;
  }

  const envelope = (message: BusMessage, options: { all?: true } = {}) => JSON.stringify({ from: options.all ? toAll(nodeId) : nodeId, message });

  return {
    /** The bus's channel, for a script that publishes on it itself. */
    channel,
    /** A message as published on the bus's channel, for a script that publishes it itself. */
    envelope,
    /**
     * Tells the other nodes (and this one's listeners too with `all`, when it hears the bus); false
     * when Redis is unavailable (the message is dropped, not queued).
     */
    async publish(message: BusMessage, options: { all?: true } = {}): Promise<boolean> {
      try {
        await link.call((redis) => redis.publish(channel, envelope(message, options)));
        return true;
      } catch (error) {
        if (error instanceof RedisUnavailable) return false;
        throw error;
      }
    },
    /** Whether this node hears the bus now: a message sent to all while it does not reaches the others only. */
    listening: () => listening,
    /** Called each time the subscription is back after its connection was lost: messages may have been missed. */
    onRestored(listener: () => void): void {
      restored.add(listener);
    },
    /** Hears the other nodes' messages, checked against BusMessageSchema. */
    on(listener: (message: BusMessage, from: string) => void): void {
      listeners.add(listener);
    },
    async close(): Promise<void> {
      listeners.clear();
      restored.clear();
      await subscriber.quit().catch(() => {});
      subscriber.disconnect();
    },
  };
}
