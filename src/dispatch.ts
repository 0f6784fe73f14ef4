// Turns one text frame into one reply: envelope checks, schema validation, the handler, errors normalised once.
// Every reply and push is sent after the batch's commit, in the order the frames arrived.
import * as v from 'valibot';
import { beforeSecondFactor, events, errors, errorText, limits, Ref, type EventSpec, type EventType } from '../protocol/index.ts';
import { fail, ParleyError } from './errors.ts';
import { unstorableInJson } from './unicode.ts';
import { eventText, failureText, successText, withRef } from './envelope.ts';
import { handlers, type AnyHandler } from './features/index.ts';
import { opened, type CommandRun, type LaterRead } from './features/handler.ts';
import { deliver, eachView, logEvent, readersOf } from './delivery/fanout.ts';
import { personal } from './delivery/views.ts';
import { unknownType } from './metrics.ts';
import { alone, startShare } from './thread-share.ts';
import { inJob, type Ctx, type SocketCtx } from './context.ts';
import type { Job, Kind, Outcome } from './storage/engine/commit.ts';
import type { Store } from './storage/index.ts';
import { heldBy, isPlainObject, refusedSend } from './send-order.ts';

type Entry = {
  readonly handler: AnyHandler;
  readonly schema: v.GenericSchema;
  /** The guard's fields only, validated before the guard runs. */
  readonly guardSchema: v.GenericSchema | undefined;
  /** Events it counts as against the rate limit. */
  readonly cost: number;
  /** Handlers that take many events at once: the group of units they run as. */
  readonly group?: Kind<Submitted, undefined, Store>;
};

/** A frame on its way to a group of units. */
type Submitted = { readonly socket: SocketCtx; readonly frame: unknown; readonly ref: Ref | undefined; readonly startedAt: number };

const parseConfig = { abortEarly: true } as const;

// Built once at load: a Map, so `__proto__` or `constructor` are just unknown types.
const table = new Map<string, Entry>(
  (Object.keys(handlers) as EventType[]).map((type) => {
    const handler: AnyHandler & { schema: v.GenericSchema } = handlers[type];
    const spec: EventSpec = events[type];
    const guardSchema = spec.guard && v.pick(handler.schema as v.ObjectSchema<v.ObjectEntries, undefined>, spec.guard.fields as [string]);
    const entry: Entry = { handler, schema: handler.schema, guardSchema, cost: spec.cost ?? 1 };
    return [type, handler.many ? { ...entry, group: groupOf(type, entry, handler.many) } : entry];
  }),
);


function reply(ctx: SocketCtx, text: string): void {
  ctx.commit.after(() => ctx.caller.send(text));
}

function rootError(ctx: SocketCtx, name: 'invalid_json' | 'no_type' | 'binary_frame', ref?: Ref, detail?: string): void {
  ctx.metrics.event(unknownType, errors[name].code);
  reply(ctx, failureText('root', errors[name].text, errors[name].code, ref, detail));
}

/** The seed's text for an unknown type stays; `detail` names the type and the event it was probably meant to be. */
function whatIsUnknown(type: unknown): string | undefined {
  if (typeof type !== 'string') return undefined;
  const shown = JSON.stringify(type.length > 64 ? `${type.slice(0, 64)}…` : type);
  const near = type.length <= 64 ? [...table.keys()].find((known) => editDistance(known, type.toLowerCase()) <= 2) : undefined;
  return `unknown type ${shown}${near ? `: did you mean "${near}"?` : ''}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * A frame over the rate limit is not handled, but its answer names its type and `ref` when they can be
 * read, so a client knows which request to retry.
 */
export function dispatchRefused(ctx: SocketCtx, text: string | undefined): void {
  const { RATE_LIMIT_EVENTS: rate, RATE_LIMIT_BURST: burst } = ctx.settings;
  let frame: unknown;
  try {
    frame = text === undefined ? undefined : JSON.parse(text);
  } catch {
    frame = undefined;
  }
  const type = isPlainObject(frame) && typeof frame.type === 'string' && table.has(frame.type) ? frame.type : 'root';
  const ref = isPlainObject(frame) && v.is(Ref, frame.ref) ? frame.ref : undefined;
  ctx.metrics.event(type === 'root' ? unknownType : type, 'rate_limited');
  refusedSend(ctx.caller, frame, performance.now());
  reply(ctx, failureText(type, errorText('rate_limited', { rate, burst }), 'rate_limited', ref));
}

/** The caller's account owes the server time (its events' units of work took more than its budget): refused until paid off. */
function overBudget(ctx: SocketCtx): ParleyError | undefined {
  const wait = ctx.caller.work.wait();
  if (wait === 0) return undefined;
  const { RATE_LIMIT_WORK_MS: rate, RATE_LIMIT_WORK_BURST_MS: burst } = ctx.settings;
  return fail('work_rate_limited', { rate, burst, wait });
}

/** Runs a unit's work and charges its share of the server's time meanwhile to the caller's account. */
async function charged<T>(ctx: SocketCtx, work: () => Promise<T>): Promise<T> {
  const end = startShare();
  try {
    return await work();
  } finally {
    ctx.caller.work.charge(end());
  }
}

export function dispatchBinary(ctx: SocketCtx): void {
  rootError(ctx, 'binary_frame');
}

/** Handles a frame: at once what is refused or malformed, otherwise its unit is queued. */
export function dispatch(ctx: SocketCtx, text: string): void {
  alone(() => dispatchFrame(ctx, text));
}

function dispatchFrame(ctx: SocketCtx, text: string): void {
  const startedAt = performance.now();
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
      const known = typeof type === 'string' && table.has(type);
      ctx.metrics.event(known ? type : unknownType, 'bad_request');
      return reply(ctx, failureText(known ? type : 'root', errors.bad_ref.text, 'bad_request'));
    }
    ref = frame.ref;
  }
  const entry = typeof type === 'string' ? table.get(type) : undefined;
  if (entry === undefined || typeof type !== 'string') return rootError(ctx, 'no_type', ref, whatIsUnknown(type));
  // A message to a conversation whose earlier message was refused waits for that one to come again.
  const held = heldBy(ctx.caller, frame, startedAt);
  if (held) {
    ctx.metrics.event(type, 'rate_limited');
    return reply(ctx, failureText(type, errorText('send_held', { id: held.conversation, client_id: held.clientId }), 'rate_limited', ref));
  }
  const { RATE_LIMIT_EVENTS: rate, RATE_LIMIT_BURST: burst } = ctx.settings;
  // The frame itself cost one token; an event that costs more takes the rest now.
  if (entry.cost > 1 && !ctx.caller.spend(entry.cost - 1)) {
    ctx.metrics.event(type, 'rate_limited');
    return reply(ctx, failureText(type, errorText('costly_rate_limited', { type, cost: entry.cost, rate, burst }), 'rate_limited', ref));
  }
  const owing = overBudget(ctx);
  if (owing) {
    refusedSend(ctx.caller, frame, startedAt);
    return reply(ctx, failed(ctx, type, owing, ref));
  }
  const unstorable = unstorableInJson(text, frame);
  if (unstorable) {
    ctx.metrics.event(type, 'bad_request');
    const message = unstorable === 'nul' ? errorText('nul_in_text', {}) : errorText('ill_formed_text', { example: unstorable });
    return reply(ctx, failureText(type, message, 'bad_request', ref));
  }
  if (ctx.caller.secondFactorDue && !whileSecondFactorDue.has(type)) {
    // Rare (TWO_FACTOR_REQUIRED and no second factor yet): looked up again, it may have been set up since, on any socket or node.
    return void stillDue(ctx).then(
      (due) => ctx.caller.closed || alone(() => (due ? reply(ctx, failed(ctx, type, fail('two_factor_required'), ref)) : handle(ctx, entry, type, ref, startedAt, frame))),
      (error: unknown) => reply(ctx, failed(ctx, type, error, ref)),
    );
  }
  handle(ctx, entry, type, ref, startedAt, frame);
}

const whileSecondFactorDue = new Set<string>(beforeSecondFactor satisfies readonly EventType[]);

async function stillDue(ctx: SocketCtx): Promise<boolean> {
  if ((await ctx.store.twoFactor.get(ctx.caller.user.id))?.enabled_at != null) ctx.caller.secondFactorDue = false;
  return ctx.caller.secondFactorDue;
}

/** A frame that passed the envelope's checks: its slow part prepared first when it has one, then queued as a unit. */
function handle(ctx: SocketCtx, entry: Entry, type: string, ref: Ref | undefined, startedAt: number, frame: Record<string, unknown>): void {
  const { prepare } = entry.handler;
  if (!prepare) return submit(ctx, entry, type, ref, startedAt, { frame });
  // The slow part (a password hash) runs outside the queue of work; its reply may come after later frames' replies.
  const parsed = v.safeParse(entry.schema, frame, parseConfig);
  if (!parsed.success) return reply(ctx, failed(ctx, type, new ParleyError('bad_request', parsed.issues[0].message), ref));
  prepare(ctx, parsed.output).then(
    (prepared) => ctx.caller.closed || submit(ctx, entry, type, ref, startedAt, { input: parsed.output, prepared }),
    (error: unknown) => reply(ctx, failed(ctx, type, error, ref)),
  );
}

/**
 * The frame's fields, as its handler takes them: the guard's first (they may refuse before the rest is
 * looked at), then the whole schema. What the guard found (the caller's membership) goes on in `ctx`.
 * `many`: the handler does what the guard would for frames that are valid (it reads memberships for
 * many at once); the guard still runs for an invalid one, whose refusal comes first.
 */
async function validate(ctx: Ctx, entry: Entry, frame: unknown, many = false): Promise<unknown> {
  if (many) {
    // A valid frame's guard fields are valid too (they are a part of its schema), and `many` runs no guard for it.
    const parsed = v.safeParse(entry.schema, frame, parseConfig);
    if (parsed.success) return parsed.output;
  }
  let guarded: unknown;
  if (entry.guardSchema) {
    const fields = v.safeParse(entry.guardSchema, frame, parseConfig);
    if (!fields.success) throw new ParleyError('bad_request', fields.issues[0].message);
    guarded = fields.output;
  }
  const parsed = v.safeParse(entry.schema, frame, parseConfig);
  if (guarded !== undefined && entry.handler.guard && (!many || !parsed.success)) ctx.membership = await entry.handler.guard(ctx, guarded);
  if (!parsed.success) throw new ParleyError('bad_request', parsed.issues[0].message);
  return parsed.output;
}

/** The group of units that runs the frames of a handler that takes many at once. */
function groupOf(type: string, entry: Entry, many: NonNullable<AnyHandler['many']>): Kind<Submitted, undefined, Store> {
  return {
    name: type,
    async run(items) {
      const outcomes: Outcome<undefined>[] = new Array(items.length);
      const valid: { i: number; ctx: Ctx; input: unknown }[] = [];
      const end = startShare();
      for (const [i, { input: { socket, frame }, job }] of items.entries()) {
        const ctx = inJob(socket, job);
        try {
          const owing = overBudget(ctx);
          if (owing) throw owing;
          valid.push({ i, ctx, input: await validate(ctx, entry, frame, true) });
        } catch (error) {
          outcomes[i] = { error };
        }
      }
      const ran = valid.length ? await many(valid.map(({ ctx, input }) => ({ ctx, input }))).finally(end) : [];
      // The group's share of the server's time, split evenly among the events that ran in it.
      const share = end() / Math.max(1, valid.length);
      for (const { ctx } of valid) ctx.caller.work.charge(share);
      for (const [j, { i, ctx }] of valid.entries()) {
        const outcome = ran[j]!;
        if ('error' in outcome) {
          outcomes[i] = outcome;
          continue;
        }
        const { ref, startedAt } = items[i]!.input;
        await succeeded(items[i]!.input.socket, ctx, type, ref, startedAt, outcome.value);
        outcomes[i] = { value: undefined };
      }
      return outcomes;
    },
  };
}

/**
 * Runs an event as one unit of work in the batch (validation, its guard, the handler and its logged
 * event together), and sends its reply and pushes once the batch is committed, in frame order.
 */
function submit(socket: SocketCtx, entry: Entry, type: string, ref: Ref | undefined, startedAt: number, given: { frame: unknown } | { input: unknown; prepared: unknown }): void {
  const refuse = (error: unknown, job: Job<Store>) => job.after(() => socket.caller.send(failed(socket, type, error, ref)));
  // Answered by the unit's own failure handler or effect.
  const answered = () => {};
  if (entry.group && 'frame' in given) return void socket.commit.together(entry.group, { socket, frame: given.frame, ref, startedAt }, refuse).catch(answered);
  // Frames sent together all passed the check in `dispatch` before any ran: checked again as each one's turn comes.
  const work = (job: Job<Store>) => {
    const owing = overBudget(socket);
    if (owing) throw owing;
    return charged(socket, async () => {
      const ctx = inJob(socket, job);
      const input = 'frame' in given ? await validate(ctx, entry, given.frame) : given.input;
      let ran: unknown;
      try {
        ran = await entry.handler.run(ctx, input, 'prepared' in given ? given.prepared : undefined);
      } catch (error) {
        // A refusal whose writes must stand (a wrong code spends a try): the unit succeeds, the reply is the refusal.
        if (!(error instanceof ParleyError && error.keepWrites)) throw error;
        return job.after(() => socket.caller.send(failed(socket, type, error, ref)));
      }
      await succeeded(socket, ctx, type, ref, startedAt, ran);
    });
  };
  socket.commit.run(work, refuse).catch(answered);
}

/** A handler's success, in its unit of work: its event logged when others are told, and once committed the reply and the pushes (or the slash command a send became). */
async function succeeded(socket: SocketCtx, ctx: Ctx, type: string, ref: Ref | undefined, startedAt: number, ran: unknown): Promise<void> {
  const { data, audience, later, command } = opened(ran);
  if (command) return ctx.job.after((committed, failure) => alone(() => (committed ? runCommand(socket, type, ref, startedAt, command) : ctx.caller.send(failed(ctx, type, failure, ref)))));
  const logged = audience && (await logEvent(ctx, type, data, audience));
  const readers = audience && 'conversation' in audience && personal.has(type) ? await readersOf(ctx, type, audience) : undefined;
  ctx.job.after((committed, failure) => alone(() => {
    if (!committed) return ctx.caller.send(failed(ctx, type, failure, ref));
    if (later) return answerLater(ctx, type, ref, startedAt, later);
    ctx.metrics.event(type, 'ok', startedAt);
    if (!audience || !logged) return ctx.caller.send(withRef(successText(type, data), ref));
    ctx.ordering.committed(logged.seq, () => alone(() => {
      if (readers) return pushPersonal(ctx, type, data, readers, logged.seq, ref);
      const text = eventText(type, logged.dataText, logged.seq);
      deliver(ctx, audience, text, logged.only, ctx.caller);
      ctx.caller.send(withRef(text, ref));
    }));
  }));
}

/**
 * A `send_message` that starts with a slash command, once its unit is committed: run as `run_command` runs it
 * (its cost, its checks, its call outside any unit, its posting as a unit of its own), answered under `type`.
 */
function runCommand(socket: SocketCtx, type: string, ref: Ref | undefined, startedAt: number, command: CommandRun): void {
  const entry = table.get('run_command')!;
  const { RATE_LIMIT_EVENTS: rate, RATE_LIMIT_BURST: burst } = socket.settings;
  // The send's frame paid one token already.
  if (!socket.caller.spend(entry.cost - 1)) {
    socket.metrics.event(type, 'rate_limited');
    return socket.caller.send(failureText(type, errorText('costly_rate_limited', { type: 'run_command', cost: entry.cost, rate, burst }), 'rate_limited', ref));
  }
  handle(socket, entry, type, ref, startedAt, { ...command });
}

/** Per socket, the last reply read after its commit: the next is sent after it. */
const lastLater = new WeakMap<object, Promise<void>>();

/**
 * A reply read after the commit: sent when the read is done, its time charged to the caller's account,
 * and after the socket's earlier replies read later. An account has at most `limits.searchesAtOnce`
 * reads under way (the time of those still running is not charged yet): a search past that is refused
 * at once, other reads wait for a place, and the account's budget is checked again when it comes.
 */
function answerLater(ctx: SocketCtx, type: string, ref: Ref | undefined, startedAt: number, { read, busy }: LaterRead): void {
  const refused = (error: unknown) => failed(ctx, type, error, ref);
  let reply: Promise<string | undefined>;
  if (busy === 'refuse') {
    const release = ctx.caller.work.startRead();
    if (!release) return ctx.caller.send(refused(fail('reads_at_once', { limit: limits.searchesAtOnce })));
    reply = readNow(ctx, type, ref, startedAt, read).finally(release);
  } else {
    reply = ctx.caller.work.awaitRead().then((release) => {
      const owing = overBudget(ctx);
      return (owing ? Promise.resolve(refused(owing)) : readNow(ctx, type, ref, startedAt, read)).finally(release);
    });
  }
  const sent = (lastLater.get(ctx.caller) ?? Promise.resolve()).then(() => reply).then((text) => {
    if (text !== undefined) ctx.caller.send(text);
  });
  lastLater.set(ctx.caller, sent);
}

/** Runs a read and makes its reply: the data, or the refusal; its time charged to the caller. */
function readNow(ctx: SocketCtx, type: string, ref: Ref | undefined, startedAt: number, read: LaterRead['read']): Promise<string | undefined> {
  // A socket gone while its read waited for a place: the read would be for no one.
  if (ctx.caller.closed) return Promise.resolve(undefined);
  return read().then(
    ({ data, ms }) => {
      ctx.caller.work.charge(ms);
      ctx.metrics.event(type, 'ok', startedAt);
      return withRef(successText(type, data), ref);
    },
    (error: unknown) => failed(ctx, type, error, ref),
  );
}

/** An event whose data differs per reader (each sees their own `me`): serialised once per distinct view. */
function pushPersonal(ctx: SocketCtx, type: string, data: unknown, readers: readonly { id: number; username: string }[], seq: number, ref: Ref | undefined): void {
  eachView(ctx, type, data, readers, seq, (readerId, text) => {
    if (readerId === ctx.caller.user.id) ctx.caller.send(withRef(text, ref));
    ctx.registry.push([readerId], text, ctx.caller);
  });
}

/** The error reply; anything but a ParleyError is `internal` (logged), or `unavailable` when the database could not be reached. */
function failed(ctx: SocketCtx, type: string, error: unknown, ref: Ref | undefined): string {
  if (!(error instanceof ParleyError) && ctx.store.driver.unavailable(error)) {
    ctx.metrics.event(type, 'unavailable');
    return failureText(type, errors.unavailable.text, 'unavailable', ref);
  }
  ctx.metrics.event(type, error instanceof ParleyError ? error.code : 'internal');
  if (error instanceof ParleyError) return failureText(type, error.message, error.code, ref);
  ctx.log.error('handler failed', { type, user: ctx.caller.user.username, error });
  return failureText(type, errors.internal.text, 'internal', ref);
}
