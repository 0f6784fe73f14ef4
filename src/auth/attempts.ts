// Password guessing: every password check (logins, and the socket events that ask for the password)
// is counted as a failure *before* its hash runs, so a burst sent at once cannot slip past the limits.
import { createThrottle } from '../throttle.ts';
import type { Settings } from '../config.ts';
import type { Store, UserRow } from '../storage/index.ts';
import { PasswordsBusy, type Passwords } from './passwords.ts';
import { hashRefresh } from './tokens.ts';

/**
 * A check under way, counted ahead as a failure of the account from this address, across accounts
 * and across addresses: `right()` takes that back and clears the account's count from this address,
 * `wrong()` leaves it counted, `cancel()` takes it back (the check never ran).
 */
export type Attempt = { right(): void; wrong(): void; cancel(): void };

export type Refusal = { waitMs: number; why: 'throttled' | 'busy' };

export type PasswordGuard = ReturnType<typeof createPasswordGuard>;

const maxMs = 15 * 60_000;
/** Password checks one address may have under way (running or waiting their turn); more are refused at once. */
export const checksAtOncePerAddress = 8;
/**
 * Failures across every address before an account waits, except on its known devices and addresses:
 * strangers guessing from many places cannot lock the owner out of their own.
 */
export const accountCeilingFactor = 20;

/**
 * The three counts behind the guard: `begin` answers the longest wait among the pair's, the address's
 * and (unless `known`) the account's, and when there is none counts a failure on all three ahead of
 * the check, in one step: checks running at once (on several nodes of a cluster) each see the ones
 * before them. Kept on this node, or shared by a cluster (src/cluster/guard.ts).
 */
export type GuardCounts = {
  begin(pair: string, address: string, account: string, known: boolean): Promise<number>;
  /** The password was right: the pair starts afresh, and what `begin` counted on the address and the account is taken back. */
  right(pair: string, address: string, account: string): void;
  /** The check never ran: everything `begin` counted is taken back. */
  cancel(pair: string, address: string, account: string): void;
  /** The password was wrong: the waits of what `begin` counted run from now, not from when the check began. */
  wrong(pair: string, address: string, account: string): void;
};

/** Each count with waits of 1 s doubling to 15 min: an account from one address (`limit`), one address across accounts (4 ×), an account across addresses (20 ×). */
export const guardSpecs = (limit: number) => ({
  pairs: { limit, baseMs: 1000, maxMs },
  addresses: { limit: 4 * limit, baseMs: 1000, maxMs },
  accounts: { limit: accountCeilingFactor * limit, baseMs: 1000, maxMs },
});

/** The counts on this node alone. */
export function localGuardCounts(limit: number): GuardCounts {
  const specs = guardSpecs(limit);
  const pairs = createThrottle(specs.pairs);
  const addresses = createThrottle(specs.addresses);
  const accounts = createThrottle(specs.accounts);
  return {
    async begin(pair, address, account, known) {
      const now = Date.now();
      const waitMs = Math.max(pairs.wait(pair, now), addresses.wait(address, now), known ? 0 : accounts.wait(account, now));
      if (waitMs > 0) return waitMs;
      pairs.fail(pair, now);
      addresses.fail(address, now);
      accounts.fail(account, now);
      return 0;
    },
    right(pair, address, account) {
      pairs.forget(pair);
      addresses.undo(address);
      accounts.undo(account);
    },
    cancel(pair, address, account) {
      pairs.undo(pair);
      addresses.undo(address);
      accounts.undo(account);
    },
    wrong(pair, address, account) {
      const now = Date.now();
      pairs.confirm(pair, now);
      addresses.confirm(address, now);
      accounts.confirm(account, now);
    },
  };
}

/**
 * The counts (`GuardCounts`), not applied where the owner has logged in before. Checks of one account
 * from one address take turns on a node, so each sees how the one before ended (a right password
 * clears the pair for the next); every count is taken before the hash runs, so checks on other nodes
 * at the same moment see it too, and given back when the password was right.
 */
export function createPasswordGuard(settings: Pick<Settings, 'LOGIN_MAX_FAILURES'>, counts: GuardCounts = localGuardCounts(settings.LOGIN_MAX_FAILURES)) {
  /** Checks under way per address, waiting or running. */
  const underway = new Map<string, number>();
  /** The last check in line per account and address. */
  const turns = new Map<string, Promise<void>>();

  return {
    /**
     * Starts a password check of `account` (lower case) from `address`, once the checks of the same
     * account from there ahead of it are done; `known` when the address or device has held a session
     * of the account. Refused while a count says wait, or when the address has too many under way.
     */
    async begin(account: string, address: string, known: boolean): Promise<Attempt | Refusal> {
      const inFlight = underway.get(address) ?? 0;
      if (inFlight >= checksAtOncePerAddress) return { waitMs: 1000, why: 'busy' };
      underway.set(address, inFlight + 1);
      const pair = `${account}\n${address}`;
      const ahead = turns.get(pair);
      let done!: () => void;
      const mine = new Promise<void>((resolve) => (done = resolve));
      const last = (ahead ?? Promise.resolve()).then(() => mine);
      turns.set(pair, last);
      let settled = false;
      const settle = () => {
        if (settled) return false;
        settled = true;
        const left = (underway.get(address) ?? 1) - 1;
        if (left > 0) underway.set(address, left);
        else underway.delete(address);
        if (turns.get(pair) === last) turns.delete(pair);
        done();
        return true;
      };
      if (ahead) await ahead;
      let waitMs: number;
      try {
        waitMs = await counts.begin(pair, address, account, known);
      } catch (error) {
        settle();
        throw error;
      }
      if (waitMs > 0) {
        settle();
        return { waitMs, why: 'throttled' };
      }
      return {
        right() {
          if (settle()) counts.right(pair, address, account);
        },
        // Counted already, by `begin`; its wait runs from now.
        wrong() {
          if (settle()) counts.wrong(pair, address, account);
        },
        cancel() {
          if (settle()) counts.cancel(pair, address, account);
        },
      };
    },
  };
}

/** "1 second", "15 seconds". */
export const secondsText = (ms: number): string => {
  const seconds = Math.ceil(ms / 1000);
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
};

/** Whether the address, or the device of the refresh token (even an old one), has held a session of the account. */
export async function knownPlace(store: Store, userId: number, where: { ip: string; refreshToken?: string }): Promise<boolean> {
  return (await store.sessions.hasAddress(userId, where.ip))
    || (where.refreshToken !== undefined && (await store.sessions.namedByRefresh(hashRefresh(where.refreshToken)))?.user_id === userId);
}

export type PasswordCheck =
  | { ok: true }
  | { ok: false; why: 'wrong' }
  | { ok: false; why: 'throttled' | 'busy' | 'server_busy'; waitMs: number };

/**
 * Checks `password` for an account (its row, or none: an unknown name costs the same hash), counted
 * by the guard. The owner's own addresses and devices (a refresh token of theirs, even an old one)
 * are not held back by failures from elsewhere.
 */
export async function checkPassword(
  app: { readonly guard: PasswordGuard; readonly passwords: Passwords; readonly store: Store },
  who: { account: string; user: UserRow | undefined; ip: string; refreshToken?: string },
  password: string,
): Promise<PasswordCheck> {
  const { user } = who;
  const known = user !== undefined && (await knownPlace(app.store, user.id, who));
  const attempt = await app.guard.begin(who.account.toLowerCase(), who.ip, known);
  if (!('right' in attempt)) return { ok: false, ...attempt };
  let right: boolean;
  try {
    right = await app.passwords.verify(user?.password_hash, password, who.ip);
  } catch (error) {
    attempt.cancel();
    if (error instanceof PasswordsBusy) return { ok: false, why: 'server_busy', waitMs: 1000 };
    throw error;
  }
  if (!right || !user) {
    attempt.wrong();
    return { ok: false, why: 'wrong' };
  }
  attempt.right();
  return { ok: true };
}
