// Files: upload and download throughput through the HTTP layer against the same bytes written to and read from the
// disk directly, in the same run, and the server's peak memory during a MAX_UPLOAD_BYTES upload. `tsx test/bench/files.ts [--quick]`.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { readSettings } from '../../src/config.ts';
import { spawnFilesApp } from '../helpers/files-app.ts';
import { exchange } from '../helpers/bytes.ts';

/** MB/s (10^6 bytes a second): through Parley's HTTP layer, and the disk alone. */
export type Throughput = { http: number; disk: number };
export type FilesResult = {
  /** Bytes of each file: MAX_UPLOAD_BYTES's default. */
  bytes: number;
  rounds: number;
  /** Medians over the rounds. Upload: HTTP answered 201 (sniffed, hashed, synced, renamed) vs write + fsync. */
  upload: Throughput;
  /** Download: GET of the whole file (read by a bare socket) vs reading the stored file (both from the page cache). */
  download: Throughput;
  /** The server process during one upload of `bytes`, just after start. */
  memory: { rssBeforeMiB: number; peakMiB: number };
};

const mib = 1024 * 1024;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const rate = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
const cookie = { cookie: 'user=bench' };

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function writeDirect(path: string, bytes: Buffer): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads a stream to its end, keeping nothing; answers the bytes seen. */
async function drain(stream: AsyncIterable<Buffer>): Promise<number> {
  let size = 0;
  for await (const chunk of stream) size += chunk.length;
  return size;
}

/**
 * GETs a file over a bare socket and counts its body: Node's HTTP client parses more slowly than
 * the server sends (about 200 MB/s here), and would be what this measures.
 */
function download(port: number, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET /files/${id} HTTP/1.1\r\nHost: bench\r\nCookie: user=bench\r\n\r\n`));
    let head = Buffer.alloc(0);
    let length = -1;
    let body = 0;
    socket.on('data', (chunk: Buffer) => {
      if (length < 0) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        length = Number(/content-length: (\d+)/i.exec(head.subarray(0, end).toString())?.[1] ?? 0);
        body = head.length - end - 4;
      } else body += chunk.length;
      if (body >= length) {
        socket.destroy();
        resolve(body);
      }
    });
    socket.on('error', reject);
  });
}

export async function measureFiles(quick = false): Promise<FilesResult> {
  const bytes = readSettings({}).MAX_UPLOAD_BYTES;
  const rounds = quick ? 1 : 3;
  const app = await spawnFilesApp({ MAX_UPLOAD_BYTES: String(bytes) });
  try {
    const first = randomBytes(bytes);
    const before = app.memory();
    app.resetPeak();
    const stored = await exchange(app.base, 'POST', '/files?filename=first.bin', { headers: cookie, body: first });
    if (stored.status !== 201) throw new Error(`upload failed: ${stored.status} ${stored.body}`);
    const memory = { rssBeforeMiB: before.rss / mib, peakMiB: app.memory().peak / mib };

    const upload: Throughput[] = [];
    const fetched: Throughput[] = [];
    for (let round = 0; round < rounds; round++) {
      const data = randomBytes(bytes);
      let reply: { id: string; sha256: string } | undefined;
      const httpUp = await timed(async () => {
        reply = JSON.parse((await exchange(app.base, 'POST', `/files?filename=${round}.bin`, { headers: cookie, body: data })).body.toString());
      });
      const direct = join(app.filesDir, `direct-${round}.bin`);
      const diskUp = await timed(() => writeDirect(direct, data));
      await rm(direct);
      const { id, sha256: key } = reply!;
      let got = 0;
      const httpDown = await timed(async () => (got = await download(app.port, id)));
      if (got !== bytes) throw new Error(`downloaded ${got} of ${bytes} bytes`);
      const diskDown = await timed(() => drain(createReadStream(join(app.filesDir, key.slice(0, 2), key.slice(2, 4), key), { highWaterMark: mib })));
      upload.push({ http: rate(bytes, httpUp), disk: rate(bytes, diskUp) });
      fetched.push({ http: rate(bytes, httpDown), disk: rate(bytes, diskDown) });
    }
    const medians = (list: Throughput[]) => ({ http: median(list.map((t) => t.http)), disk: median(list.map((t) => t.disk)) });
    return { bytes, rounds, upload: medians(upload), download: medians(fetched), memory };
  } finally {
    await app.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await measureFiles(process.argv.includes('--quick')))}\n`);
}
