// Work shared fairly between the people waiting for it: jobs wait by address and, within an address, by account, and start in turn, a few at a time.

/** Whose job it is; `signal` aborts when nobody waits for it any more (the client went away). */
export type Turn = { readonly address: string; readonly account: string; readonly signal?: AbortSignal };

/**
 * An address, or an account within it: when it was last served (0: not since it had no jobs), its
 * jobs running, and what waits (an account's jobs in order; an address's accounts). It is forgotten
 * once nothing of it runs or waits.
 */
type Share<T> = { served: number; running: number; readonly waiting: T };
type Account = Share<(() => void)[]>;
type Address = Share<Map<string, Account>>;

const idle = (share: Share<unknown[] | Map<string, unknown>>) =>
  share.running === 0 && (Array.isArray(share.waiting) ? share.waiting.length : share.waiting.size) === 0;

/** The share served longest ago among those with something waiting (the first to come among equals). */
function oldest<T extends Share<unknown[] | Map<string, unknown>>>(shares: Map<string, T>): T | undefined {
  let found: T | undefined;
  for (const share of shares.values()) {
    const waits = Array.isArray(share.waiting) ? share.waiting.length > 0 : share.waiting.size > 0;
    if (waits && (!found || share.served < found.served)) found = share;
  }
  return found;
}

/**
 * Runs at most `atOnce` jobs at a time. A free place goes to the address served longest ago (one
 * that had nothing running or waiting counts as never served), within it to the account served
 * longest ago, and to that account's oldest job: four accounts behind one address share one
 * address's turns, and another address's job starts as soon as a place is free. A job whose signal
 * aborts while it waits is dropped (rejecting with the signal's reason); one that has started is the
 * caller's to stop.
 */
export function fairQueue(atOnce: number) {
  const addresses = new Map<string, Address>();
  let running = 0;
  let clock = 0;

  function startMore(): void {
    while (running < atOnce) {
      const address = oldest(addresses);
      if (!address) return;
      const account = oldest(address.waiting)!;
      address.served = account.served = ++clock;
      running++;
      account.waiting.shift()!();
    }
  }

  return function run<T>(turn: Turn, work: () => Promise<T>): Promise<T> {
    const { signal } = turn;
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const address: Address = addresses.get(turn.address) ?? { served: 0, running: 0, waiting: new Map() };
      const account: Account = address.waiting.get(turn.account) ?? { served: 0, running: 0, waiting: [] };
      addresses.set(turn.address, address);
      address.waiting.set(turn.account, account);
      const forget = () => {
        if (idle(account)) address.waiting.delete(turn.account);
        if (idle(address)) addresses.delete(turn.address);
      };
      const drop = () => {
        account.waiting.splice(account.waiting.indexOf(start), 1);
        forget();
        reject(signal!.reason);
      };
      const start = () => {
        signal?.removeEventListener('abort', drop);
        address.running++;
        account.running++;
        work().then(resolve, reject).finally(() => {
          running--;
          address.running--;
          account.running--;
          forget();
          startMore();
        });
      };
      signal?.addEventListener('abort', drop, { once: true });
      account.waiting.push(start);
      startMore();
    });
  };
}
