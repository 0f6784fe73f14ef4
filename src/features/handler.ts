// The shape of an event handler: its schema from protocol/, an optional guard, the run, and who else hears of it.
import type { EventReply, EventRequest, EventType, events } from '../../protocol/index.ts';
import type { Ctx } from '../context.ts';

type Spec<T extends EventType> = (typeof events)[T];

type GuardInput<T extends EventType> = Spec<T> extends { guard: { fields: readonly (infer F)[] } }
  ? Pick<EventRequest<T>, F & keyof EventRequest<T>>
  : never;

/** Who else receives a success event: every socket of these users, or of a conversation's members. */
export type Audience = { readonly users: Iterable<number> } | { readonly conversation: number };

export type Handler<T extends EventType> = {
  readonly schema: Spec<T>['request'];
  /** Runs inside the batch's transaction, as a savepoint: synchronous, and all or nothing. */
  run(ctx: Ctx, input: EventRequest<T>): EventReply<T>;
  /**
   * Who else gets the same success event. Naming an audience makes the event a logged one: it is
   * appended to the event log (in the same transaction) and pushed with its `seq` after the commit;
   * the requesting socket gets it as its reply.
   */
  fanout?(ctx: Ctx, input: EventRequest<T>, data: EventReply<T>): Audience | undefined;
} & (Spec<T> extends { guard: object }
  ? { guard(ctx: Ctx, input: GuardInput<T>): void }
  : { guard?: never });

export type Handlers = { [T in EventType]: Handler<T> };

/** A handler with its types erased, as dispatch holds it after validation has done the typing. */
export type AnyHandler = {
  run(ctx: Ctx, input: unknown): unknown;
  guard?(ctx: Ctx, input: unknown): void;
  fanout?(ctx: Ctx, input: unknown, data: unknown): Audience | undefined;
};
