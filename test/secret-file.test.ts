// The secrets Parley keeps beside the database: made once, and when two processes make one at once, both use the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOrCreateSecret } from '../src/secret-file.ts';

test('a missing secret is made once, 0600, and read back after', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-secret-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'jwt-secret');
  const made = readOrCreateSecret(file, () => Buffer.from('first secret'), 'JWT secret', 'delete it');
  assert.deepEqual([made.content.toString(), made.created, statSync(file).mode & 0o777], ['first secret', true, 0o600]);
  const again = readOrCreateSecret(file, () => Buffer.from('second secret'), 'JWT secret', 'delete it');
  assert.deepEqual([again.content.toString(), again.created], ['first secret', false]);
});

test('two nodes starting at once on one folder: the one that links second uses the first one\'s secret', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-secret-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'jwt-secret');
  // The other node writes its secret while this one is making its own (both found no file).
  const raced = readOrCreateSecret(file, () => {
    writeFileSync(file, 'the other node\'s secret', { mode: 0o600 });
    return Buffer.from('this node\'s secret');
  }, 'JWT secret', 'delete it');
  assert.deepEqual([raced.content.toString(), raced.created], ['the other node\'s secret', false]);
  assert.equal(readFileSync(file, 'utf8'), 'the other node\'s secret');
  assert.deepEqual(readdirSync(dir), ['jwt-secret'], 'no partial file is left');
});
