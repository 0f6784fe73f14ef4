// The disk file store on a real disk: content-addressed, sharded, written through a temporary file, nothing left by a failed or discarded write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { openDiskStore, temporaryFolder } from '../src/files/store.ts';
import { onDisk } from './helpers/bytes.ts';

function folder(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');

test('put, commit, get: the bytes are kept by their SHA-256, in two levels of folders, private to the server', async (t) => {
  const dir = folder(t);
  const store = openDiskStore(dir);
  const content = 'hello, files';
  const pending = await store.put(Readable.from([Buffer.from('hello, '), Buffer.from('files')]));
  assert.deepEqual({ key: pending.key, sha256: pending.sha256, size: pending.size }, { key: sha256(content), sha256: sha256(content), size: 12 });
  assert.equal(await store.exists(pending.key), false, 'nothing is readable before commit');
  assert.equal(await store.get(pending.key), undefined);
  await pending.commit();
  const key = pending.key;
  assert.deepEqual(onDisk(dir), { stored: [join(key.slice(0, 2), key.slice(2, 4), key)], temporary: [] });
  assert.equal(statSync(join(dir, key.slice(0, 2), key.slice(2, 4), key)).mode & 0o777, 0o600);
  assert.equal(await store.exists(key), true);
  assert.equal(await text((await store.get(key))!), content);
  assert.equal(await text((await store.get(key, { start: 7, end: 10 }))!), 'file');
  assert.equal(await text((await store.get(key, { start: 11, end: 11 }))!), 's');
  await store.delete(key);
  assert.equal(await store.exists(key), false);
  assert.equal(await store.get(key), undefined);
  await store.delete(key); // deleting what is gone is not an error
});

test('the same bytes twice are stored once', async (t) => {
  const dir = folder(t);
  const store = openDiskStore(dir);
  const first = await store.put(Readable.from([Buffer.from('same bytes')]));
  const second = await store.put(Readable.from([Buffer.from('same'), Buffer.from(' bytes')]));
  assert.equal(first.key, second.key);
  await first.commit();
  await second.commit();
  assert.deepEqual(onDisk(dir), { stored: [join(first.key.slice(0, 2), first.key.slice(2, 4), first.key)], temporary: [] });
  assert.equal(await text((await store.get(first.key))!), 'same bytes');
});

test('a source that fails half-way, or a discarded write, leaves nothing behind', async (t) => {
  const dir = folder(t);
  const store = openDiskStore(dir);
  async function* failing() {
    yield Buffer.alloc(256 * 1024, 1);
    throw new Error('the client went away');
  }
  await assert.rejects(store.put(failing()), { message: 'the client went away' });
  assert.deepEqual(onDisk(dir), { stored: [], temporary: [] });
  const pending = await store.put(Readable.from([Buffer.from('never mind')]));
  assert.deepEqual(onDisk(dir).temporary.length, 1, 'written to a temporary file');
  await pending.discard();
  assert.deepEqual(onDisk(dir), { stored: [], temporary: [] });
  assert.equal(await store.exists(pending.key), false);
});

test('keys are never paths: anything but a SHA-256 is refused', async (t) => {
  const store = openDiskStore(folder(t));
  for (const key of ['../../etc/passwd', '', 'A'.repeat(64), `${'a'.repeat(63)}/`]) {
    await assert.rejects(store.get(key), { message: `not a file key: ${JSON.stringify(key)}` });
    await assert.rejects(store.exists(key), { message: `not a file key: ${JSON.stringify(key)}` });
    await assert.rejects(store.delete(key), { message: `not a file key: ${JSON.stringify(key)}` });
  }
});

test('temporary files a crash left are removed at start, unless they may belong to an upload under way', (t) => {
  const dir = folder(t);
  const tmp = temporaryFolder(dir);
  mkdirSync(tmp);
  writeFileSync(join(tmp, 'old.part'), 'left by a crash');
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  utimesSync(join(tmp, 'old.part'), twoHoursAgo, twoHoursAgo);
  writeFileSync(join(tmp, 'new.part'), 'still arriving');
  openDiskStore(dir);
  assert.deepEqual(readdirSync(tmp).filter((name) => !name.endsWith('.owner')), ['new.part']);
});

test('FILES_DIR is created when missing; one that cannot be a folder is named', (t) => {
  const dir = folder(t);
  openDiskStore(join(dir, 'a', 'b'));
  assert.ok(statSync(join(dir, 'a', 'b', 'tmp')).isDirectory());
  const file = join(dir, 'plain-file');
  writeFileSync(file, 'x');
  assert.throws(() => openDiskStore(file), { message: `FILES_DIR=${file}: ${file} is not a folder` });
  assert.throws(() => openDiskStore(join(file, 'files')), { message: `FILES_DIR=${join(file, 'files')}: ${file} is not a folder` });
  assert.throws(() => openDiskStore('/proc/nope/files'), { message: 'FILES_DIR=/proc/nope/files: cannot create the folder /proc/nope (ENOENT: no such file or directory)' });
});
