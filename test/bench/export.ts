// `npm run bench -- --only=export` (`--only=pgexport` on PostgreSQL): the server's memory while it builds
// the export of a user with 100,000 messages and 1 GiB of files (1,024 files of 1 MiB of random bytes, each
// attached to one of the messages), asked for over WebSocket (request_export, then export_ready), then while
// the zip is downloaded; the zip's size and entries are checked. The target (issue 28): the resident memory
// stays within 64 MiB of idle.
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { open as openFile, stat } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type WebSocket from 'ws';
import { fresh, oneNode, rssKiB, sleep, type Engine } from './drive.ts';
import { open, replyTo } from './hammer.ts';

export type ExportResult = {
  engine: Engine; messages: number; files: number; fileBytes: number;
  /** Server RSS (MiB): at idle, the highest while the zip was built, the highest while it was downloaded. */
  idleMiB: number; buildPeakMiB: number; downloadPeakMiB: number;
  buildSeconds: number; zipBytes: number; entries: number;
};

const mib = 2 ** 20;

/** The names and sizes (uncompressed) of a zip file's entries, from its central directory (a zip without a comment or zip64 records, as yazl writes up to 4 GiB). */
async function zipEntries(path: string): Promise<{ name: string; size: number }[]> {
  const file = await openFile(path);
  try {
    const { size } = await file.stat();
    const { buffer: end } = await file.read(Buffer.alloc(22), 0, 22, size - 22);
    if (end.readUInt32LE(0) !== 0x06054b50) throw new Error('no end of central directory where expected');
    const { buffer: directory } = await file.read(Buffer.alloc(end.readUInt32LE(12)), 0, end.readUInt32LE(12), end.readUInt32LE(16));
    const entries = [];
    for (let at = 0, i = 0; i < end.readUInt16LE(10); i++) {
      const nameLength = directory.readUInt16LE(at + 28);
      entries.push({ name: directory.toString('utf8', at + 46, at + 46 + nameLength), size: directory.readUInt32LE(at + 24) });
      at += 46 + nameLength + directory.readUInt16LE(at + 30) + directory.readUInt16LE(at + 32);
    }
    return entries;
  } finally {
    await file.close();
  }
}

/** Resolves with the `data` of the socket's first `type` push. */
function push(socket: WebSocket, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const envelope = JSON.parse(String(data)) as { type: string; data: Record<string, unknown> };
      if (envelope.type !== type) return;
      socket.off('message', onMessage);
      resolve(envelope.data);
    };
    socket.on('message', onMessage);
  });
}

/** Downloads `url` with `cookie` into `path`; answers the bytes written. */
function download(url: string, cookie: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { cookie } }, (response) => {
      if (response.statusCode !== 200) return reject(new Error(`GET ${url}: ${response.statusCode}`));
      pipeline(response, createWriteStream(path)).then(() => stat(path)).then(({ size }) => resolve(size), reject);
    }).on('error', reject);
  });
}

export function exportBench(engine: Engine, quick: boolean): Promise<ExportResult> {
  const messages = quick ? 20_000 : 100_000;
  const files = { count: quick ? 128 : 1024, bytes: mib };
  console.log(`export: a user with ${messages.toLocaleString('en')} messages and ${files.count} files of 1 MiB, ${engine}`);
  return fresh({ users: 3, channel: messages, files }, async ([server], seeded) => {
    const pid = server.child.pid!;
    const owner = await open(server, seeded.tokens[2]!);
    await sleep(3000);
    const idle: number[] = [];
    for (let i = 0; i < 20; i++, await sleep(50)) idle.push(rssKiB(pid) / 1024);
    const idleMiB = idle.sort((a, b) => a - b)[idle.length >> 1]!;
    // The server's RSS every 20 ms, its highest since the last reset.
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(pid) / 1024)), 20);
    try {
      const started = performance.now();
      const ready = push(owner, 'export_ready');
      await replyTo(owner, { type: 'request_export' });
      const { url, size } = (await ready) as { url: string; size: number };
      const buildSeconds = (performance.now() - started) / 1000;
      const buildPeakMiB = peak;
      peak = 0;
      const dir = mkdtempSync(join(tmpdir(), 'parley-bench-export-'));
      try {
        const zip = join(dir, 'export.zip');
        const zipBytes = await download(`${server.http}${url}`, `login-token=${seeded.tokens[2]}`, zip);
        const downloadPeakMiB = peak;
        if (zipBytes !== size) throw new Error(`downloaded ${zipBytes} bytes of ${size}`);
        const entries = await zipEntries(zip);
        const stored = entries.filter((entry) => entry.name.startsWith('files/'));
        if (stored.length !== files.count || stored.some((entry) => entry.size !== files.bytes) || !entries.some((entry) => entry.name === 'messages.jsonl')) {
          throw new Error(`the zip holds ${stored.length} files of ${files.count} (${entries.length} entries)`);
        }
        const result = { engine, messages, files: files.count, fileBytes: files.count * files.bytes, idleMiB, buildPeakMiB, downloadPeakMiB, buildSeconds, zipBytes, entries: entries.length };
        console.log(`  built in ${buildSeconds.toFixed(1)} s: ${(zipBytes / mib).toFixed(0)} MiB, ${entries.length} entries; server RSS idle ${idleMiB.toFixed(0)} MiB, peak while building ${buildPeakMiB.toFixed(0)} MiB (+${(buildPeakMiB - idleMiB).toFixed(0)}), while downloading ${downloadPeakMiB.toFixed(0)} MiB (+${(downloadPeakMiB - idleMiB).toFixed(0)}); target within 64 MiB of idle: ${Math.max(buildPeakMiB, downloadPeakMiB) - idleMiB <= 64 ? 'met' : 'NOT met'}`);
        return result;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      clearInterval(sampler);
    }
  }, oneNode(engine));
}
