// HTTP with binary bodies for the file routes: whole bodies, bodies sent a piece at a time, and what is on disk under FILES_DIR.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { temporaryFolder } from '../../src/files/store.ts';
import { sleep } from './wait.ts';

export type BytesResult = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };

/**
 * Sends `body` (all at once with a Content-Length, or as chunks with chunked encoding) and reads the
 * answer whole. The answer may come before the body is all sent (a refusal): it is still returned.
 * `ca`: for an https base, the certificate to trust.
 */
export function exchange(base: string, method: string, path: string, options: { headers?: Record<string, string>; body?: Buffer | string; chunks?: AsyncIterable<Buffer>; ca?: string } = {}): Promise<BytesResult> {
  return new Promise((resolve, reject) => {
    const { body, chunks } = options;
    const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    let answered = false;
    const url = new URL(path, base);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, { method, agent: false, ca: options.ca, headers: { ...options.headers, ...length } }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    // Writing into a connection the server closed after refusing fails; the answer is what counts.
    req.on('error', (error) => answered || reject(error));
    if (body !== undefined) req.end(body);
    else if (chunks) {
      (async () => {
        for await (const chunk of chunks) {
          if (answered || req.destroyed) return;
          if (!req.write(chunk)) await new Promise((resume) => req.once('drain', resume));
        }
        req.end();
      })().catch(() => {});
    } else req.end();
  });
}

/** `count` chunks of `size` bytes each. */
export async function* chunksOf(count: number, size: number, fill = 0x61): AsyncGenerator<Buffer> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(size, fill);
}

/**
 * Stored files (outside `tmp/`) and temporary files under a disk store's folder, as paths relative to
 * it; not the owner files that mark which process writes which temporary file (src/files/leftovers.ts).
 */
export function onDisk(filesDir: string): { stored: string[]; temporary: string[] } {
  const all = readdirSync(filesDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.endsWith('.owner'))
    .map((entry) => join(entry.parentPath, entry.name));
  const tmp = temporaryFolder(filesDir);
  return {
    stored: all.filter((path) => !path.startsWith(`${tmp}/`)).map((path) => relative(filesDir, path)).sort(),
    temporary: all.filter((path) => path.startsWith(`${tmp}/`)).map((path) => relative(tmp, path)).sort(),
  };
}

/**
 * Starts an upload (as the holder of `token`) that sends its first 8 KiB (more than the server reads
 * to tell the type, so it starts writing) and then waits until `finish` is called; `result` ends when
 * the server has answered.
 */
export function heldUpload(base: string, token: string, name: string): { result: Promise<BytesResult>; finish: () => void } {
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  async function* pieces(): AsyncGenerator<Buffer> {
    yield Buffer.alloc(8192, 0x61);
    await finished;
    yield Buffer.from('last piece\n');
  }
  const result = exchange(base, 'POST', `/files?filename=${encodeURIComponent(name)}`, { chunks: pieces(), headers: { cookie: `login-token=${token}`, 'content-type': 'text/plain' } });
  return { result, finish };
}

/** Waits (up to 5 s) until exactly `count` uploads are being written under FILES_DIR/tmp: each was let through. */
export async function underWay(filesDir: string, count: number): Promise<void> {
  const writing = () => onDisk(filesDir).temporary.length;
  for (let tries = 0; tries < 200 && writing() < count; tries++) await sleep(25);
  if (writing() !== count) throw new Error(`${writing()} uploads under way, not ${count}`);
}
