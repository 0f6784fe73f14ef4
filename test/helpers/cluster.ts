// Cluster parts under test: a Redis link with its log lines kept, cluster nodes in processes of their
// own (test/helpers/cluster-node.ts) that a test can kill or pause, and whole servers as nodes of one
// cluster with sockets that keep every envelope.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { createLogger } from '../../src/log.ts';
import { connectRedis, type RedisLink } from '../../src/cluster/redis.ts';
import { createClient, type Client } from '../../protocol/client.ts';
import { createCookieJar, type CookieJar } from '../../protocol/auth.ts';
import type { Envelope } from '../../protocol/index.ts';
import { built } from './built.ts';
import { follow, startServer, type LogLine, type TestServer } from './server.ts';
import { startRedis, type TestRedis } from './redis.ts';
import { testDatabase } from './postgres.ts';
import { password, uniqueName } from './clients.ts';
import { http, tokenFrom } from './http.ts';
import type { NodeCommand } from './cluster-node.ts';
import { sleep } from './wait.ts';

const root = new URL('../..', import.meta.url).pathname;

/** A link to Redis, closed after the test; `logs` holds what it logged. */
export async function linkTo(t: TestContext, url: string): Promise<{ link: RedisLink; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const link = await connectRedis(url, createLogger('debug', (line) => logs.push(JSON.parse(line) as LogLine)));
  t.after(() => link.close());
  return { link, logs };
}

export type NodeProcess = {
  readonly id: string;
  readonly pid: number;
  /** Every line it printed, parsed. */
  readonly lines: LogLine[];
  send(command: NodeCommand): void;
  /** The first line from now on (after `from` lines) that matches. */
  next(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a command and waits for its answer. */
  ask(command: NodeCommand): Promise<LogLine>;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<number | string | null>;
};

/** Starts a node process on `redisUrl`; resolves once it has joined. Killed after the test. */
export async function startNode(t: TestContext, redisUrl: string, env: Record<string, string> = {}): Promise<NodeProcess> {
  const child = spawn(process.execPath, [built('test/helpers/cluster-node.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', REDIS_URL: redisUrl, NODE_TIMEOUT: '2', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.after(() => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
  const { logs, text, waitForLog, exited } = follow(child);
  // waitForLog looks at every line so far: `next` only at those after the lines already seen.
  const next = (match: (line: LogLine) => boolean, timeoutMs = 10_000) => {
    const from = logs.length;
    return waitForLog((line) => logs.indexOf(line) >= from && match(line), timeoutMs);
  };
  // Not waitForLog: its timer would keep this process alive for its full length after an early exit.
  let ready: LogLine | undefined;
  for (const started = Date.now(); !ready; await sleep(20)) {
    ready = logs.find((line) => line.event === 'ready');
    if (!ready && (child.exitCode !== null || child.signalCode !== null || Date.now() - started > 20_000)) {
      throw new Error(`node process did not get ready (exit ${child.exitCode ?? child.signalCode}):\n${text.join('\n')}`);
    }
  }
  const send = (command: NodeCommand) => child.stdin!.write(`${JSON.stringify(command)}\n`);
  return {
    id: ready.node as string,
    pid: ready.pid as number,
    lines: logs,
    send,
    next,
    ask(command) {
      const answer = next((line) => ['open', 'close', 'error'].includes(line.event as string) && (line.user === undefined || line.user === (command as { user?: number }).user));
      send(command);
      return answer;
    },
    kill: (signal) => child.kill(signal),
    exited,
  };
}

/**
 * `count` nodes on one fresh PostgreSQL database (or `env.DATABASE_URL`'s) and one Redis (`nodes.redis`),
 * with `env` besides, and `own(i)` for node i (1, 2, …) alone (its PORT, say).
 */
/** A FILES_DIR for the nodes of one cluster, removed after the test. */
export function sharedFilesDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-cluster-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startNodes(t: TestContext, count: number, env: Record<string, string> = {}, own: (i: number) => Record<string, string> = () => ({})): Promise<TestServer[] & { redis: TestRedis }> {
  const [redis, database] = await Promise.all([startRedis(t), env.DATABASE_URL ?? testDatabase(t)]);
  const nodes: TestServer[] = [];
  // One FILES_DIR for all, as a cluster needs (a node with a folder of its own is refused at start).
  const filesDir = env.FILES_DIR ?? sharedFilesDir(t);
  // One after the other: the first creates the schema, and NODE_ID names each in its log.
  for (let i = 1; i <= count; i++) nodes.push(await startServer(t, { DATABASE_URL: database, REDIS_URL: redis.url, NODE_ID: `node${i}`, NODE_TIMEOUT: '2', LOG_LEVEL: 'info', FILES_DIR: filesDir, ...env, ...own(i) }));
  return Object.assign(nodes, { redis });
}

export type Member = { username: string; token: string; cookies: CookieJar };
export type Tapped = { client: Client; envelopes: Envelope[]; seqs: number[] };
/** Where clients go in: a node's own address, or nginx's in front of the nodes (with the certificate to trust). */
export type Entry = { readonly http: string; readonly ws: string; readonly ca?: string };

/** A new user, registered and logged in through `entry`; `cookies` as the login set them. */
export async function member(entry: Entry): Promise<Member> {
  const username = uniqueName('n');
  const registered = await http(entry.http, 'POST', '/register', { body: { username, password, fullname: `Full ${username}` }, ca: entry.ca });
  assert.equal(registered.status, 201, registered.body);
  const login = await http(entry.http, 'POST', '/auth/login', { body: { username, password }, ca: entry.ca });
  const cookies = createCookieJar();
  cookies.take(([] as string[]).concat(login.headers['set-cookie'] ?? []));
  return { username, token: tokenFrom(login), cookies };
}

/** A socket of `who` through `entry` that keeps every envelope it receives, replies included. */
export async function tapped(entry: Entry, who: Member): Promise<Tapped> {
  const envelopes: Envelope[] = [];
  const seqs: number[] = [];
  const client = createClient(new WebSocket(entry.ws, { ca: entry.ca, headers: { cookie: `login-token=${who.token}` } }), (envelope) => {
    envelopes.push(envelope);
    const { seq } = envelope as { seq?: number };
    if (seq !== undefined) seqs.push(seq);
  });
  await client.opened;
  await client.request('ping');
  return { client, envelopes, seqs };
}

