// The benchmark's driving side: the run's settings, the load-generator processes, Parley deployments
// (one node on SQLite or PostgreSQL, or several nodes on PostgreSQL and Redis) on fresh databases,
// and the chat and fan-out steps that run.ts and cluster.ts measure them with.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type TestServer } from '../helpers/server.ts';
import { startRedis } from '../helpers/redis.ts';
import { createDatabase, startPostgres, type PostgresCluster } from '../helpers/postgres.ts';
import { migratePostgres, postgresDriver, postgresPool } from '../../src/storage/engine/postgres.ts';
import { createLogger } from '../../src/log.ts';
import { benchSecret, seed, sqliteAt, type Seeded } from './seed.ts';
import type { ChatStep, FanoutStep } from './report.ts';

export const quick = process.argv.includes('--quick');
export const generatorCount = Number(process.argv.find((arg) => arg.startsWith('--generators='))?.split('=')[1] ?? 2);
export const here = new URL('.', import.meta.url).pathname;
export const stepSeconds = quick ? 1.5 : 4;
export const cores = cpus().length;
/** What the run ran on, as the results record it. */
export const machine = () => ({ cpu: cpus()[0]?.model ?? 'unknown', cores, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, generators: generatorCount });
/** `--profile=DIR`: the servers write V8 CPU profiles (node --cpu-prof) there, for finding the hot path. */
const profileDir = process.argv.find((arg) => arg.startsWith('--profile='))?.split('=')[1];

export type Engine = 'sqlite' | 'postgres';
/** What a scenario runs against: `nodes` Parley servers on one database; more than one share a Redis too. */
export type Deployment = { engine: Engine; nodes: number };
export const oneNode = (engine: Engine): Deployment => ({ engine, nodes: 1 });
export const nameOf = ({ engine, nodes }: Deployment) =>
  nodes === 1 ? `1 node on ${engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'}` : `${nodes} nodes on PostgreSQL + Redis`;

let cluster: Promise<PostgresCluster> | undefined;
/** The run's PostgreSQL: durable (fsync on), so that a commit costs what it costs in production. */
const postgresCluster = () => (cluster ??= startPostgres({ durable: true }));
/** Removes the run's PostgreSQL, if the run started one. */
export const stopPostgres = async () => (await cluster)?.destroy();
/** A fresh, migrated PostgreSQL database of the run's cluster: its URL. */
export async function postgresDatabase(): Promise<string> {
  const url = await createDatabase((await postgresCluster()).url);
  const pool = postgresPool({ url, pool: 2, log: createLogger('error') });
  try {
    await migratePostgres(pool, createLogger('error'));
  } finally {
    await pool.end();
  }
  return url;
}

export type Generator = { child: ChildProcess; call<T>(command: object): Promise<T> };

function generator(): Generator {
  const child = fork(join(here, 'loadgen.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let nextId = 0;
  const pending = new Map<number, (message: { result?: unknown; error?: string }) => void>();
  child.on('message', (message: { id: number; result?: unknown; error?: string }) => {
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  });
  return {
    child,
    call<T>(command: object) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, (message) => (message.error ? reject(new Error(message.error)) : resolve(message.result as T)));
        child.send({ id, command });
      });
    },
  };
}

export async function withGenerators<T>(work: (generators: Generator[]) => Promise<T>): Promise<T> {
  const generators = Array.from({ length: generatorCount }, generator);
  try {
    return await work(generators);
  } finally {
    for (const { child } of generators) child.kill();
  }
}

export const all = <T>(generators: Generator[], command: (index: number) => object) => Promise.all(generators.map((g, i) => g.call<T>(command(i))));
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const split = <T>(items: T[], parts: number) => Array.from({ length: parts }, (_, i) => items.filter((_, j) => j % parts === i));

export function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

/** CPU seconds (user + system) the processes have used so far, together, from /proc. */
function cpuSeconds(pids: number[]): number {
  return pids.reduce((sum, pid) => {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return sum; // a process that ended meanwhile (a PostgreSQL backend whose connection closed)
    }
    const fields = stat.split(') ')[1]!.split(' ');
    return sum + (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 per second)
  }, 0);
}

/** The run's PostgreSQL processes now: the postmaster and its children (backends, WAL writer, checkpointer...); none without one. */
async function databasePids(): Promise<number[]> {
  if (!cluster) return [];
  const { dir } = await cluster;
  const postmaster = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
  const children = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).filter((pid) => {
    try {
      return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === postmaster;
    } catch {
      return false;
    }
  });
  return [postmaster, ...children.map(Number)];
}

export function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]);
}

export type Nodes = [TestServer, ...TestServer[]];
export const pidsOf = (nodes: Nodes) => nodes.map((node) => node.child.pid!);

/**
 * Seeds a fresh database by `plan`, starts the deployment's nodes on it (several nodes also get a Redis
 * of their own and NODE_IDs bench1, bench2...), runs `work` and removes it all.
 */
export async function fresh<T>(plan: Parameters<typeof seed>[1], work: (nodes: Nodes, seeded: Seeded) => Promise<T>, deployment: Deployment = oneNode('sqlite'), env: Record<string, string> = {}): Promise<T> {
  const dirs = Array.from({ length: deployment.nodes }, () => mkdtempSync(join(tmpdir(), 'parley-bench-')));
  const redis = deployment.nodes > 1 ? await startRedis() : undefined;
  const nodes: TestServer[] = [];
  try {
    const url = deployment.engine === 'postgres' ? await postgresDatabase() : undefined;
    if (!url && deployment.nodes > 1) throw new Error('several nodes share one PostgreSQL database');
    const driver = url ? postgresDriver(postgresPool({ url, pool: 4, log: createLogger('error') })) : sqliteAt(join(dirs[0]!, 'parley.db'));
    const seeded = await seed(driver, plan, join(dirs[0]!, 'files'));
    if (url) await driver.close();
    const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    // The load is the point here: the per-socket rate limit and the per-account server-time budget are
    // lifted (a generator's pair sends thousands a second; a person, a few).
    const limits = { RATE_LIMIT_EVENTS: '1000000', RATE_LIMIT_BURST: '1000000', RATE_LIMIT_WORK_MS: '1000000', RATE_LIMIT_WORK_BURST_MS: '1000000' };
    for (const [i, dir] of dirs.entries()) {
      // The nodes of a cluster share one FILES_DIR, as they must (the first node's, where the seed put its files).
      const cluster: Record<string, string> = redis ? { REDIS_URL: redis.url, NODE_ID: `bench${i + 1}`, FILES_DIR: join(dirs[0]!, 'files') } : {};
      nodes.push(await startServer(undefined, { JWTSECRET: benchSecret, LOG_LEVEL: 'warn', ...limits, ...(url ? { DATABASE_URL: url } : {}), ...cluster, ...env }, dir, profile));
    }
    return await work(nodes as Nodes, seeded);
  } finally {
    // A profile is written only on a clean exit.
    await Promise.all(nodes.map((node) => node.stop(profileDir ? 'SIGTERM' : 'SIGKILL')));
    await redis?.destroy();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

export type Entry = { url: string; cookie?: string };
/** User `user`'s login on `node`, or on the nodes round-robin by user. */
export const loginOf = (nodes: Nodes, seeded: Seeded) => (user: number, node = user % nodes.length): Entry => ({ url: nodes[node]!.ws, cookie: `login-token=${seeded.tokens[user]}` });

/**
 * Opens the entries' sockets over the generators, then waits until every one of them has answered a
 * `ping`: the steps after it measure the server at work, not still taking a wave of logins in.
 */
export async function enter(generators: Generator[], entries: Entry[][], concurrency = 50): Promise<{ sockets: number; seconds: number }> {
  const start = performance.now();
  const opened = await all<{ opened: number }>(generators, (i) => ({ cmd: 'connect', entries: entries[i], concurrency }));
  await all(generators, () => ({ cmd: 'ready' }));
  const result = { sockets: opened.reduce((sum, o) => sum + o.opened, 0), seconds: (performance.now() - start) / 1000 };
  console.log(`  ${result.sockets} sockets in and answering after ${result.seconds.toFixed(2)} s`);
  return result;
}

/** Waits until no generator has seen a frame for `quietMs`, up to `maxMs`. */
export async function drain(generators: Generator[], quietMs = 300, maxMs = 5000): Promise<void> {
  const start = Date.now();
  for (;;) {
    await sleep(quietMs / 2);
    const reports = await all<{ lastFrameAt: number }>(generators, () => ({ cmd: 'report' }));
    const last = Math.max(...reports.map((r) => r.lastFrameAt));
    if (performance.timeOrigin + performance.now() - last > quietMs || Date.now() - start > maxMs) return;
  }
}

/** A chat pair in a generator: its conversation, its two sockets there, and optionally a lane that its latencies are reported under. */
export type Pair = [conversation: number, a: number, b: number, lane?: number];

/** Chat: pairs at stepped offered rates, against the servers `serverPids` (their CPU summed); with `roots` (each pair's), replies in threads. */
export async function chatSteps(generators: Generator[], pairs: Pair[][], rates: number[], serverPids: number[], roots?: number[][]): Promise<ChatStep[]> {
  const steps: ChatStep[] = [];
  let failedInARow = 0;
  // Warm up (JIT, caches) at the lowest rate; not recorded.
  await all(generators, (i) => ({ cmd: 'chat', rate: rates[0]! / generators.length, seconds: 1, pairs: pairs[i], roots: roots?.[i] }));
  await drain(generators);
  for (const rate of rates) {
    await all(generators, () => ({ cmd: 'reset' }));
    const database = await databasePids();
    const cpuBefore = cpuSeconds(serverPids);
    const databaseBefore = cpuSeconds(database);
    const began = performance.timeOrigin + performance.now();
    const sends = await all<{ sent: number; seconds: number; cpu: number }>(generators, (i) => ({ cmd: 'chat', rate: rate / generators.length, seconds: stepSeconds, pairs: pairs[i], roots: roots?.[i] }));
    const serverCpu = (cpuSeconds(serverPids) - cpuBefore) / Math.max(...sends.map((s) => s.seconds));
    const databaseCpu = (cpuSeconds(database) - databaseBefore) / Math.max(...sends.map((s) => s.seconds));
    await drain(generators);
    const reports = await all<{ latencies: number[]; delivered: number; errors: number; lastDeliveredAt: number }>(generators, () => ({ cmd: 'report' }));
    const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const sent = sends.reduce((sum, s) => sum + s.sent, 0);
    const sendSeconds = Math.max(...sends.map((s) => s.seconds));
    // Over the time the deliveries took: a server that falls behind is still delivering after the sends stop.
    const seconds = Math.max(sendSeconds, (Math.max(...reports.map((r) => r.lastDeliveredAt)) - began) / 1000);
    const delivered = reports.reduce((sum, r) => sum + r.delivered, 0);
    const errors = reports.reduce((sum, r) => sum + r.errors, 0) + (sent - delivered);
    const generatorCpu = Math.max(...sends.map((s) => s.cpu));
    const machineCpu = serverCpu + databaseCpu + sends.reduce((sum, s) => sum + s.cpu, 0);
    const step: ChatStep = {
      offered: rate,
      delivered: Math.round(delivered / seconds),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
      errors,
      generatorCpu,
      serverCpu,
      ...(database.length ? { databaseCpu } : {}),
      generatorLimited: generatorCpu > 0.9 || sent / sendSeconds < rate * 0.95,
      machineLimited: machineCpu > 0.9 * cores,
    };
    steps.push(step);
    console.log(`  ${rate} msgs/s offered: ${step.delivered}/s delivered, p50 ${step.p50.toFixed(2)} ms, p99 ${step.p99.toFixed(2)} ms, max ${step.max.toFixed(1)} ms, ${errors} errors, server ${step.serverCpu.toFixed(2)} cores${step.databaseCpu === undefined ? '' : `, PostgreSQL ${step.databaseCpu.toFixed(2)}`}, busiest generator ${step.generatorCpu.toFixed(2)}${step.generatorLimited ? ' (generator-limited)' : ''}${step.machineLimited ? ' (all cores busy)' : ''}`);
    // Saturation is the highest passing step: one noisy step does not end the climb, two in a row do.
    if (!(step.p99 < 50) || errors > 0) {
      if (++failedInARow === 2) break;
    } else failedInARow = 0;
  }
  return steps;
}

export function pairsFor(conversations: number[], socketsPerGenerator: (pair: number) => [number, number], laneOf = (_pair: number) => 0): Pair[][] {
  const byGenerator: Pair[][] = Array.from({ length: generatorCount }, () => []);
  conversations.forEach((conversation, pair) => {
    const [a, b] = socketsPerGenerator(pair);
    byGenerator[pair % generatorCount]!.push([conversation, a, b, laneOf(pair)]);
  });
  return byGenerator;
}

export const chatRates = quick ? [1000, 5000, 10000, 20000, 30000, 40000] : [1000, 2000, 5000, 10000, 15000, 20000, 30000, 40000, 60000, 80000];
/** PostgreSQL and several nodes on it: finer steps in the thousands, where they saturate on this machine. */
export const postgresChatRates = quick ? [1000, 2000, 3000, 5000, 7500, 10000, 15000] : [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12500, 15000, 20000];
const chatRatesOf = (deployment: Deployment) => (deployment.engine === 'postgres' ? postgresChatRates : chatRates);

// Pair i lives in generator i % G, as sockets 2k and 2k+1 there (k = its rank in that generator).
export const local = (pair: number): [number, number] => {
  const k = Math.floor(pair / generatorCount);
  return [2 * k, 2 * k + 1];
};

/** The pairs' two users' logins, generator by generator in the order `local` numbers their sockets. */
export const pairEntries = (pairs: number, login: (user: number) => Entry): Entry[][] =>
  split(Array.from({ length: pairs }, (_, pair) => pair), generatorCount).map((list) => list.flatMap((pair) => [login(2 * pair), login(2 * pair + 1)]));

/** Parley's chat steps on one deployment; with several nodes, users' sockets go to the nodes round-robin. */
export function chatParley(deployment: Deployment): Promise<ChatStep[]> {
  return fresh({ users: 1000, pairs: 500 }, (nodes, seeded) =>
    withGenerators(async (generators) => {
      console.log(` Parley, ${nameOf(deployment)}:`);
      await enter(generators, pairEntries(seeded.conversations.length, loginOf(nodes, seeded)));
      return chatSteps(generators, pairsFor(seeded.conversations, local), chatRatesOf(deployment), pidsOf(nodes));
    }),
  deployment);
}

/** Fan-out steps: one member sends at stepped rates; every member's socket must get every message. */
export async function fanoutSteps(generators: Generator[], conversation: number, serverPids: number[], rates: number[]): Promise<FanoutStep[]> {
  const steps: FanoutStep[] = [];
  let failedInARow = 0;
  // Warm up at the lowest rate, as chat does; not recorded (each deployment's first step was its slowest).
  await generators[0]!.call({ cmd: 'fanout-send', rate: rates[0]!, seconds: 1, socket: 0, conversation });
  await drain(generators);
  for (const rate of rates) {
    await all(generators, () => ({ cmd: 'reset' }));
    const cpuBefore = await all<number>(generators, () => ({ cmd: 'cpu' }));
    const serverBefore = cpuSeconds(serverPids);
    const send = await generators[0]!.call<{ sent: number; seconds: number }>({ cmd: 'fanout-send', rate, seconds: stepSeconds, socket: 0, conversation });
    await drain(generators);
    const serverCpu = (cpuSeconds(serverPids) - serverBefore) / send.seconds;
    const generatorCpus = (await all<number>(generators, () => ({ cmd: 'cpu' }))).map((cpu, i) => (cpu - cpuBefore[i]!) / send.seconds);
    const generatorCpu = Math.max(...generatorCpus);
    const machineCpu = serverCpu + generatorCpus.reduce((sum, cpu) => sum + cpu, 0);
    const reports = await all<{ fanout: [number, { count: number; last: number; sent: number }][] }>(generators, () => ({ cmd: 'report' }));
    const merged = new Map<number, { count: number; last: number; sent: number }>();
    for (const report of reports) {
      for (const [id, record] of report.fanout) {
        const seen = merged.get(id);
        if (seen) {
          seen.count += record.count;
          seen.last = Math.max(seen.last, record.last);
        } else merged.set(id, { ...record });
      }
    }
    const records = [...merged.values()];
    const deliveries = records.reduce((sum, r) => sum + r.count, 0);
    const first = Math.min(...records.map((r) => r.sent));
    const last = Math.max(...records.map((r) => r.last));
    const toLast = records.map((r) => r.last - r.sent).sort((a, b) => a - b);
    const complete = records.length === send.sent && records.every((r) => r.count === 1000);
    const step: FanoutStep = {
      rate,
      deliveriesPerSecond: Math.round(deliveries / ((last - first) / 1000)),
      p50: percentile(toLast, 50),
      p99: percentile(toLast, 99),
      max: toLast.at(-1) ?? NaN,
      complete,
      serverCpu,
      generatorCpu,
      generatorLimited: generatorCpu > 0.9,
      machineLimited: machineCpu > 0.9 * cores,
    };
    steps.push(step);
    console.log(`  ${rate} msgs/s: ${step.deliveriesPerSecond} deliveries/s, to the last member p50 ${step.p50.toFixed(2)} ms, p99 ${step.p99.toFixed(2)} ms${complete ? '' : ' (INCOMPLETE)'}, server ${serverCpu.toFixed(2)} cores, busiest generator ${generatorCpu.toFixed(2)}${step.generatorLimited ? ' (generator-limited)' : ''}${step.machineLimited ? ' (all cores busy)' : ''}`);
    if (!complete || !(step.p99 < 50)) {
      if (++failedInARow === 2) break;
    } else failedInARow = 0;
  }
  return steps;
}

export const fanoutRates = quick ? [50, 100, 200, 250, 400] : [25, 50, 100, 150, 200, 250, 300, 400, 600];
/** On PostgreSQL a fan-out of 1,000 saturates below SQLite's lowest step on this machine: lower steps, as for chat. */
const postgresFanoutRates = quick ? [10, 25, 50, 100, 200] : [10, 25, 50, 75, 100, 150, 200, 300];

/** Parley's fan-out steps on one deployment; with several nodes, members' sockets go to the nodes round-robin (the sender's to the first). */
export function fanoutParley(deployment: Deployment): Promise<FanoutStep[]> {
  return fresh({ users: 1000, group: 1000 }, (nodes, seeded) =>
    withGenerators(async (generators) => {
      const login = loginOf(nodes, seeded);
      console.log(` Parley, ${nameOf(deployment)}:`);
      await enter(generators, split(seeded.tokens.map((_, user) => login(user)), generatorCount));
      return fanoutSteps(generators, seeded.conversations[0]!, pidsOf(nodes), deployment.engine === 'postgres' ? postgresFanoutRates : fanoutRates);
    }),
  deployment);
}
