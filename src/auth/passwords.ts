// Password hashing with argon2id on libuv's thread pool, a bounded number at a time: a burst of
// logins waits in a short queue or is refused at once, and never starves the chat of CPU.
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';

/** `from` (the client's address) gets its turn in the queue after every other address waiting: nobody's burst starves the rest. */
export type Passwords = {
  hash(password: string, from?: string): Promise<string>;
  /** Checks a password against a stored hash, or against a dummy one when there is no user, so both cost the same. */
  verify(hash: string | undefined, password: string, from?: string): Promise<boolean>;
};

/** Every hash slot is taken and the queue is full: the caller answers "busy, retry", at once. */
export class PasswordsBusy extends Error {
  constructor() {
    super('too many password checks at once');
    this.name = 'PasswordsBusy';
  }
}

/** Hashes waiting for a slot, per slot: beyond this a request is refused rather than kept waiting seconds. */
export const queuedPerSlot = 8;

export async function createPasswords(atOnce: number): Promise<Passwords> {
  let running = 0;
  let queued = 0;
  /** Waiting checks by address; the Map's order is the round: an address served goes to the back. */
  const queues = new Map<string, (() => void)[]>();

  /** A finished check hands its slot to the next address in the round, or frees it. */
  function passOn(): void {
    const first = queues.entries().next();
    if (first.done) {
      running--;
      return;
    }
    const [from, waiting] = first.value;
    const wake = waiting.shift()!;
    queued--;
    queues.delete(from);
    if (waiting.length) queues.set(from, waiting);
    wake();
  }

  async function limited<T>(from: string, work: () => Promise<T>): Promise<T> {
    if (running >= atOnce) {
      if (queued >= atOnce * queuedPerSlot) throw new PasswordsBusy();
      queued++;
      await new Promise<void>((resolve) => {
        const waiting = queues.get(from);
        if (waiting) waiting.push(resolve);
        else queues.set(from, [resolve]);
      });
    } else {
      running++;
    }
    try {
      return await work();
    } finally {
      passOn();
    }
  }
  const dummy = await argon2.hash(randomBytes(16).toString('hex'), { type: argon2.argon2id });
  return {
    hash: (password, from = '') => limited(from, () => argon2.hash(password, { type: argon2.argon2id })),
    async verify(stored, password, from = '') {
      // A stored hash argon2 cannot read (an adopted account with a foreign hash) matches nothing.
      const matches = await limited(from, () => argon2.verify(stored ?? dummy, password).catch(() => false));
      return matches && stored !== undefined;
    },
  };
}
