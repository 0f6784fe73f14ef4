// Messages to a conversation keep the order a socket sent them in, also past the rate limit. A client
// sends several messages at once; when one is refused (`rate_limited`: the socket's bucket, or the
// account's server time) and the next gets in, the first, sent again, would land after it. So a
// refused message with a client_id holds that conversation on that socket: a later message to it is
// refused as well until the held one comes again (same client_id), which lifts the hold whatever its
// outcome. A client that retries refused messages in the order it sent them (the reconnecting client
// in protocol/ does) keeps its order. A hold nobody comes back for lapses after `holdMs`.
import type { Connection } from './connection.ts';
import { limits } from '../protocol/index.ts';

/** How long a hold waits for its message to come again, from its last refusal. */
export const holdMs = limits.sendHoldSeconds * 1000;
/** Conversations held at once per socket: past it, refusals hold no more (as before holds existed). */
const maxHeld = 64;

/** A JSON object (what every frame must be). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type Holds = Map<number, { clientId: string; until: number }>;
const holdsOf = new WeakMap<Connection, Holds>();

/** The conversation and client_id of a frame that sends a message with one; undefined for any other. */
function sending(frame: unknown): { conversation: number; clientId: string } | undefined {
  if (!isPlainObject(frame) || frame.type !== 'send_message') return undefined;
  const { conversation_id: conversation, client_id: clientId } = frame;
  return Number.isSafeInteger(conversation) && typeof clientId === 'string' ? { conversation: conversation as number, clientId } : undefined;
}

/** A frame was refused by the rate limit: a message with a client_id holds its conversation (the first one refused is the one awaited). */
export function refusedSend(connection: Connection, frame: unknown, now: number): void {
  const send = sending(frame);
  if (!send) return;
  let holds = holdsOf.get(connection);
  if (!holds) holdsOf.set(connection, (holds = new Map()));
  const held = holds.get(send.conversation);
  if (held && held.until > now) {
    if (held.clientId === send.clientId) held.until = now + holdMs;
    return;
  }
  if (holds.size >= maxHeld && !held) return;
  holds.set(send.conversation, { clientId: send.clientId, until: now + holdMs });
}

/**
 * Whether a message frame may go on: undefined when its conversation is not held (or this is the held
 * message, which lifts the hold); otherwise the client_id to send first.
 */
export function heldBy(connection: Connection, frame: unknown, now: number): { conversation: number; clientId: string } | undefined {
  const holds = holdsOf.get(connection);
  if (!holds || !isPlainObject(frame) || frame.type !== 'send_message') return undefined;
  const conversation = frame.conversation_id;
  if (!Number.isSafeInteger(conversation)) return undefined;
  const held = holds.get(conversation as number);
  if (!held) return undefined;
  if (held.until <= now || frame.client_id === held.clientId) {
    holds.delete(conversation as number);
    return undefined;
  }
  return { conversation: conversation as number, clientId: held.clientId };
}
