// Password hashing with argon2id; the work runs on libuv's thread pool, off the event loop.
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';

export type Passwords = {
  hash(password: string): Promise<string>;
  /** Checks a password against a stored hash, or against a dummy one when there is no user, so both cost the same. */
  verify(hash: string | undefined, password: string): Promise<boolean>;
};

export async function createPasswords(): Promise<Passwords> {
  const hash = (password: string) => argon2.hash(password, { type: argon2.argon2id });
  const dummy = await hash(randomBytes(16).toString('hex'));
  return {
    hash,
    async verify(stored, password) {
      const matches = await argon2.verify(stored ?? dummy, password);
      return matches && stored !== undefined;
    },
  };
}
