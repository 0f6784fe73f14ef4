// Handler tier: password hashing is argon2id, and a login for an unknown user does the same work as a wrong password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPasswords } from '../src/auth/passwords.ts';

/** CPU time (user + system, all threads: argon2 runs on the thread pool) that `work` takes. */
async function cpuMicros(work: () => Promise<unknown>): Promise<number> {
  const start = process.cpuUsage();
  await work();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

test('hashes are argon2id and verify only the right password', async () => {
  const passwords = await createPasswords(2);
  const hash = await passwords.hash('a fine password');
  assert.match(hash, /^\$argon2id\$/);
  assert.equal(await passwords.verify(hash, 'a fine password'), true);
  assert.equal(await passwords.verify(hash, 'another password'), false);
  assert.equal(await passwords.verify(undefined, 'a fine password'), false);
});

test('an unknown user costs a full argon2 verification, like a wrong password', async () => {
  const passwords = await createPasswords(2);
  const hash = await passwords.hash('a fine password');
  let wrong = 0;
  let unknown = 0;
  for (let i = 0; i < 3; i++) {
    wrong += await cpuMicros(() => passwords.verify(hash, 'wrong guess'));
    unknown += await cpuMicros(() => passwords.verify(undefined, 'wrong guess'));
  }
  // Work, not wall time: a skipped verification costs next to nothing; a real one tens of milliseconds.
  assert.ok(unknown > wrong * 0.5, `unknown user ${unknown} µs of CPU vs wrong password ${wrong} µs`);
});

test('a stored hash that is not argon2 matches no password, without an error', async () => {
  const passwords = await createPasswords(2);
  for (const stored of ['', 'plain text', '$2b$10$abcdefghijklmnopqrstuv', '$argon2id$v=19$m=65536,t=3,p=4$broken']) {
    assert.equal(await passwords.verify(stored, 'anything'), false, stored);
  }
});
