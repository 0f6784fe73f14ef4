// The shape of an event handler: its schema from protocol/, an optional guard, the run, and who else hears of it.
import type { EventReply, EventRequest, EventType, events } from '../../protocol/index.ts';
import type { Ctx, SocketCtx } from '../context.ts';
import type { Outcome } from '../storage/engine/commit.ts';
import type { Membership } from '../storage/stores/conversations.ts';
import type { Audience } from '../delivery/fanout.ts';
import type { ReadInput, ReadName, ReadValue } from '../reads/table.ts';

type Spec<T extends EventType> = (typeof events)[T];

type GuardInput<T extends EventType> = Spec<T> extends { guard: { fields: readonly (infer F)[] } }
  ? Pick<EventRequest<T>, F & keyof EventRequest<T>>
  : never;

const audienceKey = Symbol('audience');

/** A reply that others are told of too. */
export type Told<D> = { readonly [audienceKey]: Audience; readonly data: D };

/**
 * Names who else gets the same success event. That makes the event a logged one: it is appended to
 * the event log (in the same transaction) and pushed with its `seq` after the commit; the requesting
 * socket gets it as its reply.
 */
export function tell<D>(data: D, audience: Audience): Told<D> {
  return { [audienceKey]: audience, data };
}

const laterKey = Symbol('later');

/** A read after the commit: it runs when one of the account's places for reads is free (waiting for one, or refused at once when `busy` is 'refuse'). */
export type LaterRead<D = unknown> = { readonly read: () => Promise<{ data: D; ms: number }>; readonly busy: 'wait' | 'refuse' };

/** A reply read once the unit is committed, away from the queue of work; `ms`: the time the read took, charged to the caller. */
export type Later<D> = { readonly [laterKey]: LaterRead<D> };

/**
 * The reply is read after the commit (see `reads.ts`): the unit's writes (a search index caught up)
 * and every earlier frame of the caller's are committed by then, and a fresh read sees them. What the
 * read needs from the unit (a membership, read points not yet written) is carried in its input. The
 * reply may come after replies to later frames, but a socket's replies read later come in the order
 * their frames came.
 */
export function later<D>(read: () => Promise<{ data: D; ms: number }>, busy: LaterRead['busy'] = 'wait'): Later<D> {
  return { [laterKey]: { read, busy } };
}

/** A reply that is one of the reads (`reads.ts`) as it comes, read after the commit. */
export function laterRead<K extends ReadName>(ctx: Ctx, name: K, input: ReadInput<K>): Later<ReadValue<K>> {
  return later(async () => {
    const { value, ms } = await ctx.reads.run(name, input);
    return { data: value, ms };
  });
}

const commandKey = Symbol('command');

/** A slash command to run as `run_command` runs it, once the unit is committed: what a `send_message` starting with one becomes. */
export type CommandRun = { readonly conversation_id: number; readonly text: string };

/** A send that is a slash command: nothing is written; after the commit the command runs and its answer is the reply. */
export type RunsCommand = { readonly [commandKey]: CommandRun };

export function runsCommand(run: CommandRun): RunsCommand {
  return { [commandKey]: run };
}

/** A handler's result as its reply data and, when others are told, their audience; or the read that makes the reply later; or the command to run. */
export function opened(result: unknown): { data: unknown; audience?: Audience; later?: LaterRead; command?: CommandRun } {
  if (typeof result === 'object' && result !== null && commandKey in result) return { data: undefined, command: (result as RunsCommand)[commandKey] };
  if (typeof result === 'object' && result !== null && audienceKey in result) {
    const { data, [audienceKey]: audience } = result as Told<unknown>;
    return { data, audience };
  }
  if (typeof result === 'object' && result !== null && laterKey in result) return { data: undefined, later: (result as Later<unknown>)[laterKey] };
  return { data: result };
}

export type Handler<T extends EventType> = {
  readonly schema: Spec<T>['request'];
  /**
   * Slow work that must not hold the transaction (checking or hashing a password): runs first, outside
   * any unit of work, and what it resolves to is handed to `run`; a rejection is the reply.
   */
  prepare?(ctx: SocketCtx, input: EventRequest<T>): Promise<unknown>;
  /** Runs as one unit of work in the batch's transaction (a savepoint): all or nothing. */
  run(ctx: Ctx, input: EventRequest<T>, prepared?: unknown): Promise<EventReply<T> | Told<EventReply<T>> | Later<EventReply<T>> | RunsCommand>;
  /**
   * Runs many events of this type at once, as `run` would one by one: those queued one after another
   * in a batch, as one group of units (one savepoint) whose statements serve them all. One outcome each,
   * in order; an error fails only its own. The guard is left to it: it checks what the guard would.
   */
  many?(items: readonly { readonly ctx: Ctx; readonly input: EventRequest<T> }[]): Promise<Outcome<EventReply<T> | Told<EventReply<T>> | RunsCommand>[]>;
} & (Spec<T> extends { guard: object }
  ? { guard(ctx: Ctx, input: GuardInput<T>): Promise<Membership> }
  : { guard?: never });

export type Handlers = { [T in EventType]: Handler<T> };

/** The `run` of a handler that takes many events at once: its one event through `many`. */
export function alone<I, O>(many: (items: readonly { readonly ctx: Ctx; readonly input: I }[]) => Promise<Outcome<O>[]>): (ctx: Ctx, input: I) => Promise<O> {
  return async (ctx, input) => {
    const [outcome] = await many([{ ctx, input }]);
    if ('error' in outcome!) throw outcome.error;
    return outcome!.value;
  };
}

/** A handler with its types erased, as dispatch holds it after validation has done the typing. */
export type AnyHandler = {
  prepare?(ctx: SocketCtx, input: unknown): Promise<unknown>;
  run(ctx: Ctx, input: unknown, prepared: unknown): Promise<unknown>;
  many?(items: readonly { readonly ctx: Ctx; readonly input: unknown }[]): Promise<Outcome<unknown>[]>;
  guard?(ctx: Ctx, input: unknown): Promise<Membership>;
};
