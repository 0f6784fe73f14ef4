// Debian's nginx in front of Parley for tests: the example site of deploy/nginx/ with only its ports
// and certificate paths changed, checked with nginx -t and run as the test's own process.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { TestContext } from 'node:test';
import { follow } from './server.ts';
import { startReaper } from './orphans.ts';
import { sleep } from './wait.ts';

export const nginx = '/usr/sbin/nginx';
const root = new URL('../..', import.meta.url).pathname;

/** Replaces each of `from` exactly once in `text` (the example file must have it once, or the test is wrong). */
function replaceOnce(text: string, file: string, changes: [from: string, to: string][]): string {
  for (const [from, to] of changes) {
    assert.equal(text.split(from).length - 1, 1, `${file} has "${from}" once`);
    text = text.replace(from, to);
  }
  return text;
}

/** deploy/nginx/parley.conf with only its ports and certificate paths changed. */
export function siteFrom(ports: { http: number; https: number; parley: number }, dir: string): string {
  return replaceOnce(readFileSync(join(root, 'deploy/nginx/parley.conf'), 'utf8'), 'deploy/nginx/parley.conf', [
    ['listen 80;', `listen 127.0.0.1:${ports.http};`],
    ['listen [::]:80;', ''],
    ['listen 443 ssl;', `listen 127.0.0.1:${ports.https} ssl;`],
    ['listen [::]:443 ssl;', ''],
    ['server 127.0.0.1:8000;', `server 127.0.0.1:${ports.parley};`],
    ['/etc/letsencrypt/live/chat.example.com/fullchain.pem', join(dir, 'cert.pem')],
    ['/etc/letsencrypt/live/chat.example.com/privkey.pem', join(dir, 'key.pem')],
  ]);
}

/** The ports deploy/nginx/parley-nodes.conf lists, in order. */
export const examplePorts = [8001, 8002, 8003];

/**
 * The site for several nodes, as docs/cluster.md says to make it: parley.conf with its upstream block
 * replaced by deploy/nginx/parley-nodes.conf's, whose nodes' ports become `nodes`.
 */
export function nodesSiteFrom(ports: { http: number; https: number; nodes: number[] }, dir: string): string {
  const file = 'deploy/nginx/parley-nodes.conf';
  const block = /^upstream parley \{[^}]*\}/m;
  const upstream = block.exec(readFileSync(join(root, file), 'utf8'))?.[0];
  assert.ok(upstream, `${file} has an upstream parley block`);
  // Its server lines, one after the other, each with the same options after the address.
  const servers = [...upstream.matchAll(/^( *)server 127\.0\.0\.1:(\d+)([^;\n]*);\n/gm)];
  assert.deepEqual(servers.map((line) => Number(line[2])), examplePorts, `${file} lists its nodes on ${examplePorts.join(', ')}`);
  const [first, last] = [servers[0]!, servers.at(-1)!];
  const mine = ports.nodes.map((port) => `${first[1]}server 127.0.0.1:${port}${first[3]};\n`).join('');
  const replaced = upstream.slice(0, first.index) + mine + upstream.slice(last.index! + last[0].length);
  const site = siteFrom({ ...ports, parley: examplePorts[0]! }, dir);
  return site.replace(block.exec(site)![0], replaced);
}

/** Writes nginx.conf around `site` in `dir` (its own pid, logs and temporary files) and answers nginx's arguments. */
function configure(site: string, dir: string): string[] {
  writeFileSync(join(dir, 'parley.conf'), site);
  writeFileSync(join(dir, 'nginx.conf'), [
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    'events { worker_connections 256; }',
    'http {',
    `  access_log ${dir}/access.log;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind}_temp;`),
    `  include ${dir}/parley.conf;`,
    '}',
  ].join('\n'));
  return ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
}

/** nginx -t on the site: asserts that nginx accepts it. */
export function checkNginx(site: string, dir: string): void {
  const check = spawnSync(nginx, [...configure(site, dir), '-t'], { encoding: 'utf8' });
  assert.equal(check.status, 0, `nginx -t:\n${check.stderr}`);
}

/** nginx as this test's own process, in the foreground, stopped after the test (and by a reaper if the test process dies). */
export async function startNginx(t: TestContext, site: string, dir: string, port: number, ca: string): Promise<void> {
  checkNginx(site, dir);
  const child = spawn(nginx, [...configure(site, dir), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const reaper = startReaper({ kill: [child.pid!] });
  const { exited, text } = follow(child);
  t.after(async () => {
    child.kill('SIGTERM');
    await exited;
    reaper.done();
  });
  for (let tries = 0; ; tries++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca }, () => resolve(true)).once('error', () => resolve(false));
      socket.once('secureConnect', () => socket.end());
    });
    if (up) return;
    if (tries > 100 || child.exitCode !== null) assert.fail(`nginx did not start:\n${text.join('\n')}\n${readFileSync(join(dir, 'error.log'), 'utf8')}`);
    await sleep(50);
  }
}
