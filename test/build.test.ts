// The compiled build (build.mjs) that `npm start` and `npm run admin` run: made by npm install's prepare, rebuilt
// by npm start when a source changed since, and a server that starts from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { follow, testSecret } from './helpers/server.ts';

const root = new URL('..', import.meta.url).pathname;
const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

test('npm install builds dist/, and npm start and npm run admin run it, not the TypeScript', () => {
  assert.equal(scripts.prepare, 'node build.mjs');
  assert.equal(scripts.start, 'node build.mjs && exec node dist/src/main.js');
  assert.equal(scripts.admin, 'node build.mjs && node dist/src/admin.js');
});

/** A copy of what the build reads, with this checkout's node_modules: a build there leaves this one's dist/ alone. */
function checkout(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-build-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const path of ['src', 'protocol', 'test/helpers/cluster-node.ts', 'test/helpers/files-app.ts', 'build.mjs', 'package.json']) cpSync(join(root, path), join(dir, path), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** `npm start` in `dir` on a new database: resolves with everything it printed up to its 'listening' line. */
async function npmStart(t: import('node:test').TestContext, dir: string): Promise<{ output: string; listening: Record<string, unknown> }> {
  const home = mkdtempSync(join(tmpdir(), 'parley-build-home-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const env = { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', DBPATH: join(home, 'parley.db'), JWTSECRET: testSecret };
  const child = spawn('npm', ['start'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  // npm and the server it started: the whole process group.
  const { waitForLog, text } = follow(child);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  const listening = await waitForLog((line) => line.msg === 'listening', 60_000);
  return { output: text.join('\n'), listening };
}

test('a fresh checkout builds at its first npm start, which then listens on the native uWebSockets.js; a changed source is rebuilt at the next', async (t) => {
  const dir = checkout(t);
  const first = await npmStart(t, dir);
  assert.match(first.output, /built dist in \d+ ms/);
  assert.equal(first.listening.uws, 'native');

  const again = await npmStart(t, dir);
  assert.doesNotMatch(again.output, /built dist/, 'nothing changed: nothing built');

  appendFileSync(join(dir, 'src/main.ts'), "\nlog.info('changed after the build');\n");
  const changed = await npmStart(t, dir);
  assert.match(changed.output, /built dist in \d+ ms/);
  assert.match(changed.output, /"msg":"changed after the build"/);
});

test('npm run admin runs the build: it answers without compiling anything', (t) => {
  const dir = checkout(t);
  assert.equal(spawnSync('node', ['build.mjs'], { cwd: dir }).status, 0);
  const admin = spawnSync('npm', ['run', '--silent', 'admin', '--', 'no-such-command'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  assert.equal(admin.status, 2);
  assert.match(admin.stderr, /^usage: npm run admin -- <command>/);
  assert.doesNotMatch(admin.stderr, /built dist/);
});
