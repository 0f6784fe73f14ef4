// Image bombs through the real server: a 570-byte AVIF of 3400 × 3400 pixels costs seconds of a core, so image work must be shared fairly between addresses and leave the server's memory where it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { startServer, type TestServer } from './helpers/server.ts';
import { login, register, uniqueName } from './helpers/clients.ts';
import { exchange, onDisk, type BytesResult } from './helpers/bytes.ts';
import { until } from './helpers/wait.ts';

const mib = 1024 * 1024;

/** A one-colour AVIF: a few hundred bytes, millions of pixels to decode and re-encode. */
const avifBomb = (side: number) => sharp({ create: { width: side, height: side, channels: 3, background: '#3a7' } }).avif({ effort: 0 }).toBuffer();

/** A field of /proc/<pid>/status in bytes (VmRSS: resident now; VmHWM: the peak since the last reset). */
function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(/(\d+) kB/.exec(line ?? '')?.[1] ?? 0) * 1024;
}
/** The processes `pid` started (the image workers), from /proc. */
const childrenOf = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
const rssOrZero = (pid: number) => {
  try {
    return status(pid, 'VmRSS');
  } catch {
    return 0; // it ended between the listing and the read
  }
};

/** A new account's login token. */
async function account(server: TestServer): Promise<string> {
  const username = uniqueName('bomber');
  await register(server, username);
  return login(server, username);
}

/** Uploads `bytes` as the holder of `token`, from `address` (the server trusts 127.0.0.1's X-Forwarded-For). */
function upload(server: TestServer, token: string, address: string, bytes: Buffer, name: string): Promise<BytesResult> {
  return exchange(server.http, 'POST', `/files?filename=${name}`, { body: bytes, headers: { cookie: `login-token=${token}`, 'x-forwarded-for': address } });
}

test('an AVIF bomb: cleaned out of the server process, in turn with other addresses, and the server\'s memory comes back', async (t) => {
  const server = await startServer(t, { TRUST_PROXY: '127.0.0.1' });
  const pid = server.child.pid!;
  const bomb = await avifBomb(3400);
  const photo = await sharp({ create: { width: 200, height: 150, channels: 3, background: '#fa0' } }).jpeg().toBuffer();
  const tokens = await Promise.all([0, 1, 2, 3, 4].map(() => account(server)));
  const [neighbour, ...bombers] = tokens as [string, ...string[]];

  // One bomb alone: how long it takes, start to answer.
  let started = performance.now();
  const one = await upload(server, bombers[0]!, '10.0.0.1', bomb, 'one.avif');
  const alone = performance.now() - started;
  assert.deepEqual([one.status, JSON.parse(one.body.toString()).width], [201, 3400], one.body.toString());
  started = performance.now();
  const small = await upload(server, neighbour, '10.0.0.2', photo, 'small.jpg');
  const jpegAlone = performance.now() - started;
  assert.equal(small.status, 201);
  await until('the workers of the first uploads end', () => childrenOf(pid).length === 0, 20_000);

  const before = status(pid, 'VmRSS');
  writeFileSync(`/proc/${pid}/clear_refs`, '5'); // VmHWM starts over from here
  let workersPeak = 0;
  const sampler = setInterval(() => {
    workersPeak = Math.max(workersPeak, childrenOf(pid).reduce((sum, child) => sum + rssOrZero(child), 0));
  }, 25);
  t.after(() => clearInterval(sampler));

  // Four accounts at one address, three bombs each (all the uploads one address may have under way).
  const answered: string[] = [];
  const bombs = bombers.flatMap((token, who) => [0, 1, 2].map(async (i) => {
    const result = await upload(server, token, '10.0.0.1', bomb, `bomb-${who}-${i}.avif`);
    answered.push('bomb');
    return result;
  }));
  // Every one of them is received and waiting for its image's turn (a scratch file each) before the neighbour's photo comes.
  await until('twelve bombs waiting to be cleaned', () => onDisk(join(server.dir, 'files')).temporary.filter((name) => name.endsWith('.upload')).length === 12, 30_000);
  started = performance.now();
  const neighbours = await upload(server, neighbour, '10.0.0.2', photo, 'photo.jpg');
  const waited = performance.now() - started;
  answered.push('photo');
  assert.equal(neighbours.status, 201, neighbours.body.toString());
  const behind = 12 - answered.indexOf('photo');
  for (const result of await Promise.all(bombs)) assert.equal(result.status, 201, result.body.toString());
  const run = performance.now() - started;
  clearInterval(sampler);
  const peak = status(pid, 'VmHWM');

  // Workers end once idle, and their memory with them; the server's own comes back to where it was.
  await until('the image workers end', () => childrenOf(pid).length === 0, 30_000);
  let after = status(pid, 'VmRSS');
  await until(`server RSS back within 64 MiB of ${(before / mib).toFixed(1)} MiB (now ${(after / mib).toFixed(1)})`, () => (after = status(pid, 'VmRSS')) - before < 64 * mib, 30_000);
  t.diagnostic(`one 3400 x 3400 AVIF of ${bomb.length} bytes: ${alone.toFixed(0)} ms to answer (a first worker started), a ${photo.length}-byte JPEG alone: ${jpegAlone.toFixed(0)} ms`);
  t.diagnostic(`12 bombs from 4 accounts at one address: all answered in ${(run / 1000).toFixed(1)} s; another address's JPEG sent after them answered in ${waited.toFixed(0)} ms, with ${behind} bombs still unanswered`);
  t.diagnostic(`server RSS: ${(before / mib).toFixed(1)} MiB before, peak ${(peak / mib).toFixed(1)} MiB, ${(after / mib).toFixed(1)} MiB after; image workers: peak ${(workersPeak / mib).toFixed(1)} MiB together, none left after`);
  assert.ok(behind >= 8, `the other address's photo waited for ${12 - behind} of 12 bombs`);
  assert.ok(peak - before < 64 * mib, `the server's own peak rose by ${((peak - before) / mib).toFixed(1)} MiB`);
});

test('past its format\'s pixels an image is refused, before it is decoded, with the limit in the answer', async (t) => {
  const server = await startServer(t);
  const token = await account(server);
  const big = await sharp({ create: { width: 4000, height: 3001, channels: 3, background: '#000' } }).avif({ effort: 0 }).toBuffer();
  const refused = await upload(server, token, '10.0.0.1', big, 'big.avif');
  assert.deepEqual([refused.status, refused.body.toString()], [400, 'image too large: at most 12 megapixels for AVIF']);
  assert.deepEqual(onDisk(join(server.dir, 'files')), { stored: [], temporary: [] });
});
