// Rate limits: a token bucket per socket, server time per account, and failure throttles for logins and registrations.

/** A token bucket: `rate` tokens a second, holding at most `burst`. */
export type Bucket = { tokens: number; at: number; refused: number };

export const newBucket = (burst: number, nowMs: number): Bucket => ({ tokens: burst, at: nowMs, refused: 0 });

/** Takes `cost` tokens if there are that many; counts refusals in a row otherwise. */
export function take(bucket: Bucket, rate: number, burst: number, nowMs: number, cost = 1): boolean {
  bucket.tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.at) / 1000) * rate);
  bucket.at = nowMs;
  if (bucket.tokens >= cost) {
    bucket.tokens -= cost;
    bucket.refused = 0;
    return true;
  }
  bucket.refused++;
  return false;
}

/**
 * What an account's events may cost the server: the wait before the next may run, charging one that
 * ran, and reads under way after their commit (at most `readsAtOnce` an account): `startRead` takes a
 * place now or gives undefined when none is free, `awaitRead` waits for one, behind the account's reads
 * already waiting.
 */
export type WorkBudget = { wait(): number; charge(ms: number): void; startRead(): Release | undefined; awaitRead(): Promise<Release> };

/**
 * Server time per account, shared by its sockets: each event is charged its unit of work's share of
 * the server's time while it ran (thread-share.ts: not the time it waited while others' work ran; reads
 * that examine much cost much, a ping almost nothing). `rate` ms come back
 * a second, up to `burst`; an account that has spent more than it had owes the rest and waits until
 * it is paid off. A read after the commit is charged as it finishes: at most `readsAtOnce` of an
 * account's run at once, which bounds what it can run up before it is charged; the others wait their
 * turn in order, so that one account's many reads take turns with everyone else's rather than filling
 * the readers. At most `capacity` accounts are kept, the least recently charged dropped first.
 */
export function createWorkBudgets(rate: number, burst: number, readsAtOnce: number, capacity = 100_000) {
  const budgets = new Map<number, { left: number; at: number }>();
  const reads = createReadLanes(readsAtOnce);
  const left = (account: number, nowMs: number): number => {
    const budget = budgets.get(account);
    return budget ? Math.min(burst, budget.left + ((nowMs - budget.at) / 1000) * rate) : burst;
  };
  return {
    /** Milliseconds the account must wait before its next event runs; 0 when it may go on. */
    wait(account: number, nowMs: number): number {
      const now = left(account, nowMs);
      return now >= 0 ? 0 : Math.ceil((-now / rate) * 1000);
    },
    charge(account: number, ms: number, nowMs: number): void {
      const budget = { left: left(account, nowMs) - ms, at: nowMs };
      budgets.delete(account);
      budgets.set(account, budget);
      if (budgets.size > capacity) budgets.delete(budgets.keys().next().value!);
    },
    startRead: (account: number): Release | undefined => reads.start(account),
    awaitRead: (account: number): Promise<Release> => reads.await(account),
  };
}

/** One account's budget of server time, of these budgets, as a connection holds it. */
export function accountBudget(budgets: ReturnType<typeof createWorkBudgets>, account: number): WorkBudget {
  return {
    wait: () => budgets.wait(account, performance.now()), charge: (ms: number) => budgets.charge(account, ms, performance.now()),
    startRead: () => budgets.startRead(account), awaitRead: () => budgets.awaitRead(account),
  };
}

/** Reads under way per account, at most `atOnce` each; those waiting for a place start in the order they came. */
function createReadLanes(atOnce: number) {
  const lanes = new Map<number, { running: number; waiting: ((release: Release) => void)[] }>();
  /** Gives the place back, or hands it to the next read waiting in the lane. */
  const releaseOf = (account: number, lane: { running: number; waiting: ((release: Release) => void)[] }): Release => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = lane.waiting.shift();
      if (next) next(releaseOf(account, lane));
      else if (--lane.running === 0) lanes.delete(account);
    };
  };
  const start = (account: number): Release | undefined => {
    const lane = lanes.get(account) ?? { running: 0, waiting: [] };
    if (lane.running >= atOnce) return undefined;
    lane.running++;
    lanes.set(account, lane);
    return releaseOf(account, lane);
  };
  return {
    start,
    await: (account: number): Promise<Release> => new Promise((resolve) => {
      const release = start(account);
      if (release) resolve(release);
      else lanes.get(account)!.waiting.push(resolve);
    }),
  };
}

/**
 * Counts failures per key (an account, an address). From the `limit`th failure on, the key waits
 * `baseMs`, doubling with each further failure up to `maxMs`; `maxMs` after its last failure a key
 * is forgotten. At most `capacity` keys are kept, the oldest dropped first.
 */
export function createThrottle(options: { limit: number; baseMs: number; maxMs: number; capacity?: number }) {
  const { limit, baseMs, maxMs, capacity = 100_000 } = options;
  /** `previous`: the last failure before the last one, so that taking the last back leaves the wait as it was. */
  const entries = new Map<string, { failures: number; last: number; previous: number; until: number }>();
  const current = (key: string, nowMs: number) => {
    const entry = entries.get(key);
    if (entry && nowMs - entry.last > maxMs) entries.delete(key);
    return entries.get(key);
  };
  const waitAfter = (failures: number, last: number) => (failures >= limit ? last + Math.min(maxMs, baseMs * 2 ** (failures - limit)) : 0);
  return {
    /** Milliseconds the key must still wait; 0 when it may try. */
    wait: (key: string, nowMs: number): number => Math.max(0, (current(key, nowMs)?.until ?? 0) - nowMs),
    fail(key: string, nowMs: number): void {
      const entry = current(key, nowMs) ?? { failures: 0, last: nowMs, previous: nowMs, until: 0 };
      entry.failures++;
      entry.previous = entry.last;
      entry.last = nowMs;
      entry.until = waitAfter(entry.failures, nowMs);
      entries.delete(key);
      entries.set(key, entry);
      if (entries.size > capacity) entries.delete(entries.keys().next().value!);
    },
    /** Takes back the last failure, counted ahead of time (an attempt that turned out right, or never ran): the wait is what it was before it. */
    undo(key: string): void {
      const entry = entries.get(key);
      if (!entry) return;
      entry.failures--;
      entry.last = entry.previous;
      entry.until = waitAfter(entry.failures, entry.last);
      if (entry.failures <= 0) entries.delete(key);
    },
    forget(key: string): void {
      entries.delete(key);
    },
    /**
     * The last failure, counted ahead of time, is known now (a wrong password, once its hash has run):
     * the wait runs from now. Otherwise a check slower than the wait (a loaded machine hashes for over
     * a second) would hand the guesser its next try at once.
     */
    confirm(key: string, nowMs: number): void {
      const entry = entries.get(key);
      if (!entry) return;
      entry.last = nowMs;
      entry.until = waitAfter(entry.failures, nowMs);
    },
  };
}

/**
 * At most `limit` events per key in each `windowMs`; returns the milliseconds to wait, 0 when allowed.
 * `count`: how many events this one is (people added at once), all counted or none; a negative one
 * gives back what was counted for something that did not happen after all.
 */
export function createWindowLimit(limit: number, windowMs: number, capacity = 100_000) {
  const windows = new Map<string, { start: number; count: number }>();
  return (key: string, nowMs: number, count = 1): number => {
    let window = windows.get(key);
    if (!window || nowMs - window.start >= windowMs) {
      windows.delete(key);
      window = { start: nowMs, count: 0 };
      windows.set(key, window);
      if (windows.size > capacity) windows.delete(windows.keys().next().value!);
    }
    if (count > 0 && window.count + count > limit) return window.start + windowMs - nowMs;
    window.count = Math.max(0, window.count + count);
    return 0;
  };
}

/** One thing held under several keys' limits (an upload under way, counted for its user and its address). */
export type HoldKey = { readonly key: string; readonly limit: number };
/** Gives a hold back; a second call does nothing. */
export type Release = () => void;

/**
 * Things held a while, counted per key: a hold is taken on every key or on none (some key is at its
 * limit), and given back by its release.
 */
export function createHolds() {
  const counts = new Map<string, number>();
  const add = (key: string, by: number) => {
    const count = (counts.get(key) ?? 0) + by;
    if (count > 0) counts.set(key, count);
    else counts.delete(key);
  };
  return (entries: readonly HoldKey[]): Release | undefined => {
    if (entries.some(({ key, limit }) => (counts.get(key) ?? 0) >= limit)) return undefined;
    for (const { key } of entries) add(key, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const { key } of entries) add(key, -1);
    };
  };
}
