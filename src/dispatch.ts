// Turns one text frame into one reply: envelope checks, schema validation, the handler, errors normalised once.
import * as v from 'valibot';
import { events, errors, Ref, type EventSpec, type EventType } from '../protocol/index.ts';
import { ParleyError } from './errors.ts';
import { failureText, successText, withRef } from './envelope.ts';
import { handlers, type AnyHandler } from './features/index.ts';
import type { Ctx } from './context.ts';

type Entry = {
  readonly handler: AnyHandler;
  readonly schema: v.GenericSchema;
  /** The guard's fields only, validated before the guard runs. */
  readonly guardSchema: v.GenericSchema | undefined;
};

const parseConfig = { abortEarly: true } as const;

// Built once at load: a Map, so `__proto__` or `constructor` are just unknown types.
const table = new Map<string, Entry>(
  (Object.keys(handlers) as EventType[]).map((type) => {
    const handler: AnyHandler & { schema: v.GenericSchema } = handlers[type];
    const spec: EventSpec = events[type];
    const guardSchema = spec.guard && v.pick(handler.schema as v.ObjectSchema<v.ObjectEntries, undefined>, spec.guard.fields as [string]);
    return [type, { handler, schema: handler.schema, guardSchema }];
  }),
);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rootError(ctx: Ctx, name: 'invalid_json' | 'no_type' | 'binary_frame', ref?: Ref): void {
  ctx.caller.send(failureText('root', errors[name].text, errors[name].code, ref));
}

export function dispatchBinary(ctx: Ctx): void {
  rootError(ctx, 'binary_frame');
}

export function dispatch(ctx: Ctx, text: string): void {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return rootError(ctx, 'invalid_json');
  }
  if (!isPlainObject(frame)) return rootError(ctx, 'invalid_json');

  const type = frame.type;
  let ref: Ref | undefined;
  if (frame.ref !== undefined) {
    if (!v.is(Ref, frame.ref)) {
      return ctx.caller.send(failureText(typeof type === 'string' && table.has(type) ? type : 'root', errors.bad_ref.text, 'bad_request'));
    }
    ref = frame.ref;
  }
  const entry = typeof type === 'string' ? table.get(type) : undefined;
  if (entry === undefined || typeof type !== 'string') return rootError(ctx, 'no_type', ref);

  try {
    if (entry.guardSchema) {
      const guarded = v.safeParse(entry.guardSchema, frame, parseConfig);
      if (!guarded.success) throw new ParleyError('bad_request', guarded.issues[0].message);
      entry.handler.guard?.(ctx, guarded.output);
    }
    const parsed = v.safeParse(entry.schema, frame, parseConfig);
    if (!parsed.success) throw new ParleyError('bad_request', parsed.issues[0].message);
    const result = entry.handler.run(ctx, parsed.output);
    if (result instanceof Promise) {
      result.then(
        (data) => ctx.caller.cork(() => succeed(ctx, entry, type, parsed.output, data, ref)),
        (error: unknown) => ctx.caller.cork(() => failed(ctx, type, error, ref)),
      );
    } else {
      succeed(ctx, entry, type, parsed.output, result, ref);
    }
  } catch (error) {
    failed(ctx, type, error, ref);
  }
}

function succeed(ctx: Ctx, entry: Entry, type: string, input: unknown, data: unknown, ref: Ref | undefined): void {
  const text = successText(type, data);
  const audience = entry.handler.fanout?.(ctx, input, data);
  if (audience) ctx.registry.push(audience, text, ctx.caller);
  ctx.caller.send(withRef(text, ref));
}

function failed(ctx: Ctx, type: string, error: unknown, ref: Ref | undefined): void {
  if (error instanceof ParleyError) return ctx.caller.send(failureText(type, error.message, error.code, ref));
  ctx.log.error('handler failed', { type, user: ctx.caller.user.username, error });
  ctx.caller.send(failureText(type, errors.internal.text, 'internal', ref));
}
