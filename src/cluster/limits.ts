// Rate limits shared by the nodes of a cluster: src/throttle.ts's three kinds (failure throttles,
// windows, token buckets) with the same semantics, kept in Redis by Lua scripts on Redis's clock, so
// that a client cannot multiply a limit by spreading its requests over nodes.
//
// While Redis is unavailable each limit is held by this node alone, with the same code as a single
// node's (src/throttle.ts), rather than letting everything through (a password-guessing window for
// as long as Redis is down) or refusing everything (nobody can log in because of a cache): at worst
// a client gets one allowance per node during the outage. The counts made meanwhile stay local;
// Redis's resume where they were when it comes back.
import type { Logger } from '../log.ts';
import { randomBytes } from 'node:crypto';
import { createHolds, createThrottle, createWindowLimit, newBucket, take, type Bucket, type HoldKey, type Release } from '../throttle.ts';
import { keys, nowLua } from './lua.ts';
import { commandTimeoutMs, RedisLate, RedisUnavailable, script, type RedisLink } from './redis.ts';

export type ThrottleSpec = { limit: number; baseMs: number; maxMs: number };

/** Lua: the throttle's state for KEYS[i] (failures f, last failure l, the one before p, wait until u), as createThrottle keeps it. */
const throttleLua = `${nowLua}
local function wait_after(failures, last, limit, base, max)
  if failures < limit then return 0 end
  return last + math.min(max, base * 2 ^ (failures - limit))
end
local function fail(key, now, limit, base, max)
  local previous = redis.call('HGET', key, 'l') or now
  local failures = redis.call('HINCRBY', key, 'f', 1)
  redis.call('HSET', key, 'l', now, 'p', previous, 'u', wait_after(failures, now, limit, base, max))
  redis.call('PEXPIRE', key, max + 1)
end
local function undo(key, limit, base, max)
  local failures = tonumber(redis.call('HGET', key, 'f'))
  if not failures then return end
  if failures <= 1 then redis.call('DEL', key) return end
  local last = tonumber(redis.call('HGET', key, 'p') or redis.call('HGET', key, 'l'))
  redis.call('HSET', key, 'f', failures - 1, 'l', last, 'u', wait_after(failures - 1, last, limit, base, max))
end
local function confirm(key, now, limit, base, max)
  local failures = tonumber(redis.call('HGET', key, 'f'))
  if not failures then return end
  redis.call('HSET', key, 'l', now, 'u', wait_after(failures, now, limit, base, max))
  redis.call('PEXPIRE', key, max + 1)
end
local function wait(key, now)
  return math.max(0, (tonumber(redis.call('HGET', key, 'u')) or 0) - now)
end
`;

/**
 * ARGV[1]: how many KEYS are only checked; the rest are checked and, when none says wait, counted
 * as failures. ARGV from 2: limit, base, max of each key in turn. Answers the longest wait (0: counted).
 */
const attemptScript = script(`${throttleLua}
local now = now_ms()
local longest = 0
for i = 1, #KEYS do longest = math.max(longest, wait(KEYS[i], now)) end
if longest > 0 then return longest end
for i = tonumber(ARGV[1]) + 1, #KEYS do
  local at = 2 + (i - 1) * 3
  fail(KEYS[i], now, tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]))
end
return 0
`);

/** ARGV: op (wait, fail, undo, forget, confirm), limit, base, max. */
const throttleScript = script(`${throttleLua}
local limit, base, max = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if ARGV[1] == 'wait' then return wait(KEYS[1], now_ms()) end
if ARGV[1] == 'fail' then fail(KEYS[1], now_ms(), limit, base, max) end
if ARGV[1] == 'undo' then undo(KEYS[1], limit, base, max) end
if ARGV[1] == 'forget' then redis.call('DEL', KEYS[1]) end
if ARGV[1] == 'confirm' then confirm(KEYS[1], now_ms(), limit, base, max) end
return 0
`);

/** createWindowLimit: ARGV limit, window ms, events this one counts as (negative: given back); the window starts with its first event. Answers the wait (0: counted). */
const windowScript = script(`
local count = tonumber(redis.call('GET', KEYS[1]))
if not count then
  redis.call('SET', KEYS[1], 0, 'PX', ARGV[2])
  count = 0
end
local n = tonumber(ARGV[3])
if n > 0 and count + n > tonumber(ARGV[1]) then return math.max(1, redis.call('PTTL', KEYS[1])) end
if redis.call('INCRBY', KEYS[1], n) < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
return 0
`);

/** take(): ARGV rate, burst, cost. A bucket left alone until full is the same as none: it expires then. Answers {taken, refused in a row}. */
const bucketScript = script(`${nowLua}
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local tokens = tonumber(redis.call('HGET', KEYS[1], 't')) or burst
local at = tonumber(redis.call('HGET', KEYS[1], 'a')) or now
local refused = tonumber(redis.call('HGET', KEYS[1], 'r')) or 0
tokens = math.min(burst, tokens + (now - at) / 1000 * rate)
local taken = 0
if tokens >= cost then
  tokens = tokens - cost
  refused = 0
  taken = 1
else
  refused = refused + 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'a', now, 'r', refused)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {taken, refused}
`);

/**
 * Holds (uploads under way): KEYS are sorted sets of holds, each member scored with the end of its
 * lease (Redis's clock). ARGV: lease ms, the hold's member, then each key's limit. Takes the hold on
 * every key when each has room (answers 1), else on none (0). A lease not renewed ends by itself, so
 * the holds of a node that died are given back within a lease.
 */
const holdScript = script(`${nowLua}
local now = now_ms()
local lease, member = tonumber(ARGV[1]), ARGV[2]
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[2 + i]) then return 0 end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now + lease, member)
  redis.call('PEXPIRE', KEYS[i], lease)
end
return 1
`);

/** ARGV: op (renew, release), lease ms, member. Renews the member's holds that are still there, or removes them. */
const leaseScript = script(`${nowLua}
local now = now_ms()
local lease, member = tonumber(ARGV[2]), ARGV[3]
for i = 1, #KEYS do
  if ARGV[1] == 'release' then
    redis.call('ZREM', KEYS[i], member)
  elseif redis.call('ZSCORE', KEYS[i], member) then
    redis.call('ZADD', KEYS[i], now + lease, member)
    redis.call('PEXPIRE', KEYS[i], lease)
  end
end
return 0
`);

/** How long a hold lasts in Redis unless renewed; it is renewed every third of it while held. */
export const holdLeaseMs = 60_000;

export type SharedThrottle = {
  readonly name: string;
  readonly spec: ThrottleSpec;
  /** Milliseconds the key must still wait; 0 when it may try. */
  wait(key: string): Promise<number>;
  fail(key: string): Promise<void>;
  /** Takes back one failure (an attempt that turned out right). */
  undo(key: string): Promise<void>;
  forget(key: string): Promise<void>;
  /** The last failure, counted ahead, is known now: the wait runs from now (createThrottle's confirm). */
  confirm(key: string): Promise<void>;
};

export type ThrottleKey = { throttle: SharedThrottle; key: string };

/** An attempt counted ahead of time: `undo` takes it back where it was counted (in Redis, or on this node while Redis was away). */
export type Attempted = { waitMs: number } | { waitMs: 0; undo(): Promise<void> };

export type Limits = ReturnType<typeof createLimits>;

/** Keys a local bucket fallback keeps, as src/throttle.ts's maps do. */
const localCapacity = 100_000;

export function createLimits(options: { link: RedisLink; log: Logger }) {
  const { link, log } = options;
  const names = new Set<string>();
  const locals = new Map<SharedThrottle, ReturnType<typeof createThrottle>>();
  let fallbacks = 0;
  let alone = false;

  /** Runs `shared` in Redis, or `local` on this node when Redis is unavailable (or `late`, if given, when it answered too late). */
  async function either<T>(shared: () => Promise<T>, local: () => T, late?: () => T): Promise<T> {
    try {
      const result = await shared();
      alone = false;
      return result;
    } catch (error) {
      if (late && error instanceof RedisLate) return late();
      if (!(error instanceof RedisUnavailable)) throw error;
      fallbacks++;
      if (!alone) log.warn('rate limits held by this node alone while Redis is unavailable');
      alone = true;
      return local();
    }
  }

  function claim(kind: string, name: string): void {
    if (names.has(`${kind}:${name}`)) throw new Error(`a shared ${kind} named ${name} exists already`);
    names.add(`${kind}:${name}`);
  }

  return {
    /** createThrottle's failure counts with waits doubling from `baseMs` to `maxMs`, shared. */
    throttle(name: string, spec: ThrottleSpec): SharedThrottle {
      claim('throttle', name);
      const local = createThrottle(spec);
      const op = (op: 'wait' | 'fail' | 'undo' | 'forget' | 'confirm', key: string) =>
        link.run(throttleScript, [keys.limit('throttle', name, key)], [op, spec.limit, spec.baseMs, spec.maxMs]) as Promise<number>;
      const throttle: SharedThrottle = {
        name,
        spec,
        wait: (key) => either(() => op('wait', key), () => local.wait(key, Date.now())),
        fail: (key) => either(() => op('fail', key).then(() => {}), () => local.fail(key, Date.now())),
        undo: (key) => either(() => op('undo', key).then(() => {}), () => local.undo(key)),
        forget: (key) => either(() => op('forget', key).then(() => {}), () => local.forget(key)),
        confirm: (key) => either(() => op('confirm', key).then(() => {}), () => local.confirm(key, Date.now())),
      };
      locals.set(throttle, local);
      return throttle;
    },

    /**
     * In one step: the longest wait among `check` and `count`; when there is none, a failure counted
     * on each of `count` (before the work, e.g. a password hash, so that a burst spread over nodes
     * gets no more tries than one sent to one node). When Redis answers too late the attempt is refused
     * (a wait of `commandTimeoutMs`): the count may have run there, and may say wait, while this node's
     * own counts, used when Redis is away, have seen only its share of the tries.
     */
    attempt(check: readonly ThrottleKey[], count: readonly ThrottleKey[]): Promise<Attempted> {
      const all = [...check, ...count];
      const undoAll = () => Promise.all(count.map(({ throttle, key }) => throttle.undo(key))).then(() => {});
      return either(
        async () => {
          const args = [check.length, ...all.flatMap(({ throttle: { spec } }) => [spec.limit, spec.baseMs, spec.maxMs])];
          const waitMs = (await link.run(attemptScript, all.map(({ throttle, key }) => keys.limit('throttle', throttle.name, key)), args)) as number;
          return waitMs > 0 ? { waitMs } : { waitMs: 0 as const, undo: undoAll };
        },
        () => {
          const now = Date.now();
          const waitMs = Math.max(0, ...all.map(({ throttle, key }) => locals.get(throttle)!.wait(key, now)));
          if (waitMs > 0) return { waitMs };
          for (const { throttle, key } of count) locals.get(throttle)!.fail(key, now);
          return { waitMs: 0 as const, undo: async () => count.forEach(({ throttle, key }) => locals.get(throttle)!.undo(key)) };
        },
        () => ({ waitMs: commandTimeoutMs }),
      );
    },

    /** createWindowLimit: at most `limit` per key in each `windowMs` from the window's first event; answers the wait, 0 when counted. */
    window(name: string, limit: number, windowMs: number): (key: string, count?: number) => Promise<number> {
      claim('window', name);
      const local = createWindowLimit(limit, windowMs);
      return (key, count = 1) => either(() => link.run(windowScript, [keys.limit('window', name, key)], [limit, windowMs, count]) as Promise<number>, () => local(key, Date.now(), count));
    },

    /** take(): a token bucket per key, `rate` a second up to `burst`; answers whether `cost` was taken, and the refusals in a row. */
    bucket(name: string, rate: number, burst: number): (key: string, cost?: number) => Promise<{ taken: boolean; refused: number }> {
      claim('bucket', name);
      const local = new Map<string, Bucket>();
      return (key, cost = 1) => either(
        async () => {
          const [taken, refused] = (await link.run(bucketScript, [keys.limit('bucket', name, key)], [rate, burst, cost])) as [number, number];
          return { taken: taken === 1, refused };
        },
        () => {
          const now = Date.now();
          let bucket = local.get(key);
          if (!bucket) local.set(key, (bucket = newBucket(burst, now)));
          const taken = take(bucket, rate, burst, now, cost);
          if (local.size > localCapacity) local.delete(local.keys().next().value!);
          return { taken, refused: bucket.refused };
        },
      );
    },

    /**
     * createHolds(), shared: a hold taken on every key or none, counted over the nodes. A hold taken
     * in Redis is renewed while it is held and given back by its release; one taken on this node while
     * Redis was away is given back here.
     */
    hold(name: string, leaseMs = holdLeaseMs): (entries: readonly HoldKey[]) => Promise<Release | undefined> {
      claim('hold', name);
      const local = createHolds();
      return (entries) => either(
        async () => {
          const member = randomBytes(12).toString('base64url');
          const held = entries.map(({ key }) => keys.limit('hold', name, key));
          const taken = await link.run(holdScript, held, [leaseMs, member, ...entries.map(({ limit }) => limit)]);
          if (taken !== 1) return undefined;
          const lease = (op: 'renew' | 'release') => link.run(leaseScript, held, [op, leaseMs, member]).catch(() => {});
          const renewal = setInterval(() => void lease('renew'), leaseMs / 3);
          renewal.unref();
          let released = false;
          return () => {
            if (released) return;
            released = true;
            clearInterval(renewal);
            void lease('release'); // when Redis cannot be told, the lease ends by itself
          };
        },
        () => local(entries),
      );
    },

    /** Decisions taken on this node alone because Redis was unavailable (for metrics). */
    fallbacks: () => fallbacks,
  };
}
