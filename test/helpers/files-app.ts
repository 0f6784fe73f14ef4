// A bare uWebSockets.js app serving only the file routes, over the real disk store, with records kept in memory:
// the `user=<name>` cookie says who you are (`full` is over its quota, `slow` waits 300 ms for its authorization),
// and you may download what you uploaded. Run as a script it prints {"port"} and serves until killed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { us_listen_socket } from 'uWebSockets.js';
import { uWS } from '../../src/transport/uws.ts';
import { serveHttp } from '../../src/transport/http.ts';
import { readSettings } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { openDiskStore, temporaryFolder } from '../../src/files/store.ts';
import { fileRoutes, type FileRecords } from '../../src/files/routes.ts';
import { freeSpace } from '../../src/files/space.ts';
import type { StoredFile } from '../../src/files/upload.ts';

export type FilesApp = {
  readonly port: number;
  readonly base: string;
  readonly filesDir: string;
  /** Every upload recorded, by id. */
  readonly uploads: Map<string, { owner: string; file: StoredFile }>;
  /** Log lines written, parsed. */
  readonly logs: { level: string; msg: string; [key: string]: unknown }[];
  close(): void;
};

function memoryRecords(uploads: FilesApp['uploads']): FileRecords<{ id: string }> {
  const userOf = (cookie: string) => /(?:^|;\s*)user=([a-z]+)/.exec(cookie)?.[1];
  return {
    async authorizeUpload(request) {
      const user = userOf(request.cookie);
      if (user === 'slow') await new Promise((resolve) => setTimeout(resolve, 300)); // a slow database
      return user ? { uploader: { id: user } } : { refuse: { status: 401, body: 'login required' } };
    },
    async recordUpload({ id: owner }, file) {
      if (owner === 'full') return { refuse: { status: 413, body: 'upload quota exceeded' } };
      const id = `f${uploads.size + 1}`;
      uploads.set(id, { owner, file });
      return { id };
    },
    uploadEnded() {},
    async authorizeDownload(id, request) {
      const upload = uploads.get(id);
      return upload && upload.owner === userOf(request.cookie) ? upload.file : undefined;
    },
  };
}

/** Starts the app on a free port; FILES_DIR is a new temporary folder unless given. */
export async function startFilesApp(env: Record<string, string> = {}): Promise<FilesApp> {
  const filesDir = env.FILES_DIR ?? mkdtempSync(join(tmpdir(), 'parley-files-'));
  const settings = readSettings({ ...env, FILES_DIR: filesDir });
  const logs: FilesApp['logs'] = [];
  const log = createLogger('debug', (line) => logs.push(JSON.parse(line)));
  const store = openDiskStore(settings.FILES_DIR);
  const uploads: FilesApp['uploads'] = new Map();
  const server = uWS.App();
  serveHttp(server, { settings, log }, fileRoutes({ store, records: memoryRecords(uploads), scratchDir: temporaryFolder(filesDir), maxBytes: settings.MAX_UPLOAD_BYTES, unstripped: settings.UNSTRIPPED_IMAGES, space: freeSpace([filesDir], settings.FREE_SPACE_RESERVE_BYTES, log), log }));
  const socket = await new Promise<us_listen_socket | false>((resolve) => server.listen('127.0.0.1', 0, resolve));
  if (!socket) throw new Error('the files app could not listen');
  const port = uWS.us_socket_local_port(socket);
  return {
    port, base: `http://127.0.0.1:${port}`, filesDir, uploads, logs,
    close() {
      uWS.us_listen_socket_close(socket);
      if (!env.FILES_DIR) rmSync(filesDir, { recursive: true, force: true });
    },
  };
}


export type FilesProcess = {
  readonly port: number;
  readonly base: string;
  readonly pid: number;
  readonly filesDir: string;
  /** Resident memory now, and its peak since start or since the last resetPeak, in bytes (from /proc). */
  memory(): { rss: number; peak: number };
  /** Starts the peak over from the current resident memory (Linux `clear_refs`). */
  resetPeak(): void;
  stop(): Promise<void>;
};

/** The same app in a process of its own, so its memory can be read apart from the client's. */
export async function spawnFilesApp(env: Record<string, string>): Promise<FilesProcess> {
  const filesDir = mkdtempSync(join(tmpdir(), 'parley-files-'));
  // Not imported at the top: the built copy of this file, which runs the app, has no build to make.
  const { built } = await import('./built.ts');
  const child = spawn(process.execPath, [built('test/helpers/files-app.ts')], {
    env: { PATH: process.env.PATH ?? '', ...env, FILES_DIR: filesDir }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const [line] = await Promise.race([once(createInterface({ input: child.stdout! }), 'line'), exited.then(() => {
    throw new Error('the files app exited before listening');
  })]) as [string];
  const { port } = JSON.parse(line) as { port: number };
  const status = (field: string) => Number(/(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field))!)![1]) * 1024;
  return {
    port, base: `http://127.0.0.1:${port}`, pid: child.pid!, filesDir,
    memory: () => ({ rss: status('VmRSS:'), peak: status('VmHWM:') }),
    resetPeak: () => writeFileSync(`/proc/${child.pid}/clear_refs`, '5'),
    async stop() {
      child.kill('SIGKILL');
      await exited;
      rmSync(filesDir, { recursive: true, force: true });
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await startFilesApp(process.env as Record<string, string>);
  process.stdout.write(`${JSON.stringify({ port: app.port, pid: process.pid })}\n`);
}
