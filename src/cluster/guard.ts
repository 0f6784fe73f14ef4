// The password guard's counts shared by the nodes of a cluster (src/cluster/limits.ts, in Redis): a
// guesser spreading tries over nodes gets no more than from one. While Redis is away each node holds
// them alone, as limits.ts does for every shared limit.
import { guardSpecs, type GuardCounts } from '../auth/attempts.ts';
import type { Logger } from '../log.ts';
import type { Limits } from './limits.ts';

export function sharedGuardCounts(limits: Limits, limit: number, log: Logger): GuardCounts {
  const specs = guardSpecs(limit);
  const pairs = limits.throttle('login-pair', specs.pairs);
  const addresses = limits.throttle('login-address', specs.addresses);
  const accounts = limits.throttle('login-account', specs.accounts);
  const quietly = (done: Promise<void>) => void done.catch((error: unknown) => log.error('login count not kept', { error }));
  return {
    async begin(pair, address, account, known) {
      // The account's own count is not a reason to wait on the owner's known addresses, but is still counted.
      const counted = [{ throttle: pairs, key: pair }, { throttle: addresses, key: address }, ...(known ? [] : [{ throttle: accounts, key: account }])];
      const attempted = await limits.attempt([], counted);
      if (attempted.waitMs > 0) return attempted.waitMs;
      if (known) await accounts.fail(account);
      return 0;
    },
    right(pair, address, account) {
      quietly(pairs.forget(pair));
      quietly(addresses.undo(address));
      quietly(accounts.undo(account));
    },
    cancel(pair, address, account) {
      quietly(pairs.undo(pair));
      quietly(addresses.undo(address));
      quietly(accounts.undo(account));
    },
    wrong(pair, address, account) {
      quietly(pairs.confirm(pair));
      quietly(addresses.confirm(address));
      quietly(accounts.confirm(account));
    },
  };
}
