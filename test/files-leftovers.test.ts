// Partial uploads a crash left in FILES_DIR/tmp: gone at the next start, whatever their age, while those of another live server sharing the folder stay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openDiskStore, temporaryFolder } from '../src/files/store.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { login, register, uniqueName } from './helpers/clients.ts';
import { heldUpload } from './helpers/bytes.ts';
import { sleep } from './helpers/wait.ts';

const store = new URL('../src/files/store.ts', import.meta.url).href;
const partial = (folder: string) => readdirSync(folder).filter((name) => name.endsWith('.part')).sort();

function folder(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-leftovers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Another process that opens the store on `dir` and starts writing an upload it never finishes; it prints when the upload is being written. */
async function writer(dir: string) {
  const code = `
    const { openDiskStore } = await import(${JSON.stringify(store)});
    const files = openDiskStore(${JSON.stringify(dir)});
    void files.put((async function* () { yield Buffer.alloc(1024, 1); console.log('writing'); await new Promise(() => setInterval(() => {}, 60_000)); })());`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(createInterface({ input: child.stdout }), 'line');
  return child;
}

test('at start, the files of processes of this machine that have ended go at once; a live one\'s stay', async (t) => {
  const dir = folder(t);
  const tmp = temporaryFolder(dir);
  const crashed = await writer(dir);
  const [crashedPart] = partial(tmp);
  const live = await writer(dir);
  t.after(() => live.kill('SIGKILL'));
  const livePart = partial(tmp).find((name) => name !== crashedPart);
  const ownerOf = (part: string) => `${part.split('+').slice(0, 2).join('+')}.owner`;
  crashed.kill('SIGKILL');
  await once(crashed, 'exit');
  assert.deepEqual([partial(tmp).length, readdirSync(tmp).includes(ownerOf(crashedPart!))], [2, true], 'the crash left its partial upload and its owner file');
  openDiskStore(dir);
  assert.deepEqual(partial(tmp), [livePart]);
  assert.deepEqual([readdirSync(tmp).includes(ownerOf(crashedPart!)), readdirSync(tmp).includes(ownerOf(livePart!))], [false, true]);
});

test('another machine\'s files (a shared network folder) and unmarked ones go only once an hour old; its owner file stays', (t) => {
  const dir = folder(t);
  const tmp = temporaryFolder(dir);
  mkdirSync(tmp);
  const other = 'other-machine+0123456789abcdef';
  assert.notEqual(hostname(), 'other-machine');
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
  for (const name of [`${other}.owner`, `${other}+fresh.part`, `${other}+old.part`, 'unmarked-fresh.part', 'unmarked-old.part']) writeFileSync(join(tmp, name), 'x');
  for (const name of [`${other}.owner`, `${other}+old.part`, 'unmarked-old.part']) utimesSync(join(tmp, name), twoHoursAgo, twoHoursAgo);
  openDiskStore(dir);
  assert.deepEqual(readdirSync(tmp).filter((name) => !name.startsWith(`${hostname()}+`)).sort(), [`${other}+fresh.part`, `${other}.owner`, 'unmarked-fresh.part']);
});

/** A new account's login token on `server`. */
async function token(server: TestServer): Promise<string> {
  const username = uniqueName('uploader');
  await register(server, username);
  return login(server, username);
}

test('a server killed during uploads: restarted, its partial uploads are gone; another server sharing FILES_DIR keeps its own', async (t) => {
  const first = await startServer(t);
  const filesDir = join(first.dir, 'files');
  const tmp = temporaryFolder(filesDir);
  const neighbour = await startServer(t, { FILES_DIR: filesDir });
  const neighbourUpload = heldUpload(neighbour.http, await token(neighbour), 'still-coming.txt');
  const firstToken = await token(first);
  // Their connections break when the server is killed: that is expected.
  const held = [0, 1, 2].map((i) => heldUpload(first.http, firstToken, `held${i}.txt`).result.catch(() => undefined));
  for (let tries = 0; tries < 200 && partial(tmp).length < 4; tries++) await sleep(25);
  assert.equal(partial(tmp).length, 4, 'three uploads on the first server and one on its neighbour are being written');

  await first.stop('SIGKILL');
  await Promise.all(held);
  assert.equal(partial(tmp).length, 4, 'a crash leaves its partial uploads behind');
  await startServer(t, {}, first.dir);
  assert.equal(partial(tmp).length, 1, 'at start, only the neighbour\'s upload under way is left');

  neighbourUpload.finish();
  const finished = await neighbourUpload.result;
  assert.equal(finished.status, 201, finished.body.toString());
  assert.deepEqual(partial(tmp), []);
});
