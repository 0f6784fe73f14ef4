// Image work in process: the fair queue's order, each format's limits enforced by a worker process that is ended when its time is up, and work dropped or stopped once nobody waits for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { fairQueue } from '../src/files/fair-queue.ts';
import { imageCleaner } from '../src/files/images.ts';
import { imageFormat, ImageRefused, type ImageFormat } from '../src/files/inspect.ts';
import { fileRoutes } from '../src/files/routes.ts';
import { freeSpace } from '../src/files/space.ts';
import { openDiskStore, temporaryFolder } from '../src/files/store.ts';
import { createLogger } from '../src/log.ts';
import type { StreamedRoute } from '../src/transport/http.ts';
import { until } from './helpers/wait.ts';

const alice = { account: 'alice', address: '10.0.0.1' };

function folder(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-images-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The worker processes this test process has started, from /proc. */
const workers = () => readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);

/**
 * Whether worker `pid` is decoding an image: a started worker holds about 80 MiB, one decoding a
 * 12-megapixel AVIF over 300 MiB (its start is not part of a job, and takes half a second).
 */
function decoding(pid: number): boolean {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) > 200 * 1024;
  } catch {
    return false;
  }
}

/** A 12-megapixel AVIF of noise: about 5 s of a core to clean. */
const slowAvif = () => sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).avif({ effort: 0 }).toBuffer();

test('the queue: a free place goes to the address served longest ago, then its account served longest ago', async () => {
  const run = fairQueue(1);
  const started: string[] = [];
  const ends = new Map<string, () => void>();
  const job = (address: string, account: string, name: string) => run({ address, account }, () => {
    started.push(name);
    return new Promise<void>((resolve) => ends.set(name, resolve));
  });
  const all = [
    job('A', 'a1', 'a1-1'), job('A', 'a1', 'a1-2'), job('A', 'a1', 'a1-3'),
    job('A', 'a2', 'a2-1'), job('A', 'a2', 'a2-2'),
    job('B', 'b1', 'b1-1'), job('B', 'b1', 'b1-2'),
  ];
  for (let i = 0; i < all.length; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    ends.get(started.at(-1)!)!();
  }
  await Promise.all(all);
  assert.deepEqual(started, ['a1-1', 'b1-1', 'a2-1', 'b1-2', 'a1-2', 'a2-2', 'a1-3']);
});

test('the queue: a job whose client went away before its turn is dropped, and never runs', async () => {
  const run = fairQueue(1);
  let release!: () => void;
  const first = run(alice, () => new Promise<string>((resolve) => (release = () => resolve('first'))));
  const gone = new AbortController();
  let ran = false;
  const second = run({ ...alice, signal: gone.signal }, async () => {
    ran = true;
  });
  const third = run(alice, async () => 'third');
  gone.abort(new Error('the client went away'));
  await assert.rejects(second, { message: 'the client went away' });
  release();
  assert.deepEqual([await first, await third, ran], ['first', 'third', false]);
});

test('each format\'s limits: pixels refused before decoding, and a job past its seconds is ended with its worker', async (t) => {
  const dir = folder(t);
  const images = imageCleaner(1);
  const limits = (type: string, change: Partial<ImageFormat>): ImageFormat => ({ ...imageFormat(type)!, ...change });
  const flat = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#3a7' } });
  const cases: [string, Buffer][] = [
    ['image/jpeg', await flat(120, 100).jpeg().toBuffer()],
    ['image/png', await flat(120, 100).png().toBuffer()],
    ['image/webp', await flat(120, 100).webp().toBuffer()],
    ['image/gif', await flat(120, 100).gif().toBuffer()],
    ['image/avif', await flat(120, 100).avif().toBuffer()],
  ];
  for (const [type, bytes] of cases) {
    writeFileSync(join(dir, 'in'), bytes);
    const small = limits(type, { maxPixels: 11_999 });
    await assert.rejects(images.clean(join(dir, 'in'), join(dir, 'out'), small, alice), new ImageRefused(`image too large: at most 0.011999 megapixels for ${small.name}`), type);
    const image = await images.clean(join(dir, 'in'), join(dir, 'out'), limits(type, { maxPixels: 12_000 }), alice);
    assert.deepEqual([image?.width, image?.height], [120, 100], type);
    rmSync(join(dir, 'out'));
  }

  // libvips stops at sharp's deadline only where it looks, late or never: the AVIF and GIF encoders do
  // not look (sharp's own deadline let a GIF's re-encoding run 53 s). The worker is ended at the limit.
  const gif = await flat(8000, 6200).gif().toBuffer();
  const slow: [string, Buffer][] = [['image/avif', await slowAvif()], ['image/gif', gif.subarray(0, -1)]]; // a GIF without its trailer is re-encoded
  for (const [type, bytes] of slow) {
    writeFileSync(join(dir, 'slow'), bytes);
    const oneSecond = limits(type, { seconds: 1 });
    await images.clean(join(dir, 'in'), join(dir, 'warm'), limits('image/avif', {}), alice); // a worker ready, so that its start is not timed
    rmSync(join(dir, 'warm'));
    const [worker] = workers();
    const started = performance.now();
    await assert.rejects(images.clean(join(dir, 'slow'), join(dir, 'slow.out'), oneSecond, alice), new ImageRefused(`image too slow to decode: ${oneSecond.name} images may take at most 1 s`));
    const took = performance.now() - started;
    t.diagnostic(`${type} of ${(bytes.length / 1024).toFixed(0)} KiB, limited to 1 s: refused after ${took.toFixed(0)} ms`);
    assert.ok(took < 1800, `${type}: ${took.toFixed(0)} ms`);
    await until('the worker that ran it has ended', () => !workers().includes(worker!));
    rmSync(join(dir, 'slow.out'), { force: true });
  }
});

test('a worker that dies on an image (a crash in libvips) fails that image only: it is not an image, and the next one gets a new worker', async (t) => {
  const dir = folder(t);
  const images = imageCleaner(1);
  writeFileSync(join(dir, 'slow'), await slowAvif());
  writeFileSync(join(dir, 'fine'), await sharp({ create: { width: 60, height: 40, channels: 3, background: '#c33' } }).png().toBuffer());
  const earlier = workers(); // other tests' idle workers
  const dying = images.clean(join(dir, 'slow'), join(dir, 'slow.out'), imageFormat('image/avif')!, alice);
  await until('a worker runs', () => workers().some((pid) => !earlier.includes(pid)));
  const pid = workers().find((worker) => !earlier.includes(worker));
  // Once it decodes the image, it is ended as a segfault would end it.
  await until('the worker decodes the image', () => decoding(pid!));
  process.kill(pid!, 'SIGSEGV');
  assert.equal(await dying, undefined);
  const image = await images.clean(join(dir, 'fine'), join(dir, 'fine.out'), imageFormat('image/png')!, alice);
  assert.deepEqual([image?.width, image?.height], [60, 40]);
  assert.ok(!workers().includes(pid!));
});

test('an upload whose client goes away: its image leaves the queue, or its worker is stopped, and nothing is left', async (t) => {
  const dir = folder(t);
  const store = openDiskStore(dir);
  const recorded: string[] = [];
  const routes = fileRoutes({
    store,
    records: {
      authorizeUpload: async () => ({ uploader: { id: 7 } }),
      recordUpload: async (_, file) => {
        recorded.push(file.name);
        return { id: `f${recorded.length}` };
      },
      uploadEnded() {},
      authorizeDownload: async () => undefined,
    },
    scratchDir: temporaryFolder(dir),
    maxBytes: 25 * 1024 * 1024,
    space: freeSpace([dir], 0, createLogger('silent')),
    log: createLogger('silent'),
  });
  const post = routes['/files']!.POST as StreamedRoute;
  const avif = await slowAvif();
  const upload = (name: string, address: string, gone: AbortSignal) => post.run({
    method: 'POST', path: '/files', origin: '', cookie: '', authorization: '', userAgent: 'test', ip: address,
    headers: { 'content-type': 'application/octet-stream' }, query: new URLSearchParams({ filename: name }), params: {},
    body: Readable.from([avif]), gone,
  } as Parameters<StreamedRoute['run']>[0]);
  const scratch = () => readdirSync(temporaryFolder(dir)).filter((name) => name.endsWith('.upload'));

  const running = new AbortController();
  const waiting = new AbortController();
  const earlier = workers(); // other tests' idle workers
  const first = upload('first.avif', '10.0.0.1', running.signal);
  await until('a worker runs', () => workers().some((pid) => !earlier.includes(pid)));
  const worker = workers().find((pid) => !earlier.includes(pid))!;
  await until('the worker decodes the first image', () => decoding(worker));
  const second = upload('second.avif', '10.0.0.2', waiting.signal);
  await until('the second image waits its turn', () => scratch().length === 2);

  waiting.abort(new Error('the second client went away'));
  await assert.rejects(second, { message: 'the second client went away' });
  const stopping = performance.now();
  running.abort(new Error('the first client went away'));
  await assert.rejects(first, { message: 'the first client went away' });
  t.diagnostic(`a running image was stopped ${(performance.now() - stopping).toFixed(0)} ms after its client went away`);
  await until('its worker has ended', () => !workers().includes(worker));
  assert.deepEqual([recorded, scratch()], [[], []]);
});
