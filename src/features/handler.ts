// The shape of an event handler: its schema from protocol/, an optional guard, the run, and who else hears of it.
import type { EventReply, EventRequest, EventType, events } from '../../protocol/index.ts';
import type { Ctx } from '../context.ts';

type Spec<T extends EventType> = (typeof events)[T];

type GuardInput<T extends EventType> = Spec<T> extends { guard: { fields: readonly (infer F)[] } }
  ? Pick<EventRequest<T>, F & keyof EventRequest<T>>
  : never;

export type Handler<T extends EventType> = {
  readonly schema: Spec<T>['request'];
  run(ctx: Ctx, input: EventRequest<T>): EventReply<T> | Promise<EventReply<T>>;
  /** Users all of whose sockets (but the requesting one) are sent the same success event. */
  fanout?(ctx: Ctx, input: EventRequest<T>, data: EventReply<T>): Iterable<number>;
} & (Spec<T> extends { guard: object }
  ? { guard(ctx: Ctx, input: GuardInput<T>): void }
  : { guard?: never });

export type Handlers = { [T in EventType]: Handler<T> };

/** A handler with its types erased, as dispatch holds it after validation has done the typing. */
export type AnyHandler = {
  run(ctx: Ctx, input: unknown): unknown;
  guard?(ctx: Ctx, input: unknown): void;
  fanout?(ctx: Ctx, input: unknown, data: unknown): Iterable<number>;
};
