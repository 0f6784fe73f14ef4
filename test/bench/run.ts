// `npm run bench [-- --quick] [-- --engine=sqlite|postgres|both]`: Parley against its own ceilings,
// measured in one run on this machine; on PostgreSQL too when it is installed (a durable throwaway
// cluster started for the run).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startServer, type TestServer } from '../helpers/server.ts';
import { benchSecret, seed, sqliteAt } from './seed.ts';
import { createDatabase, startPostgres, type PostgresCluster } from '../helpers/postgres.ts';
import { missing } from '../helpers/installed.ts';
import { migratePostgres, postgresDriver, postgresPool } from '../../src/storage/postgres.ts';
import { createLogger } from '../../src/log.ts';
import { postgresRows, renderChart, renderRows, renderTable, type Results, type ChatStep, type FanoutStep } from './report.ts';
import { hammer } from './hammer.ts';
import { pushBench } from './push.ts';
import { once } from 'node:events';
import webpush from 'web-push';
import type { Subscription } from '../../src/push/types.ts';
import { measureFiles } from './files.ts';

const quick = process.argv.includes('--quick');
const generatorCount = Number(process.argv.find((arg) => arg.startsWith('--generators='))?.split('=')[1] ?? 2);
const here = new URL('.', import.meta.url).pathname;
const stepSeconds = quick ? 1.5 : 4;
const cores = cpus().length;
/** `--profile=DIR`: the servers write V8 CPU profiles (node --cpu-prof) there, for finding the hot path. */
const profileDir = process.argv.find((arg) => arg.startsWith('--profile='))?.split('=')[1];
const only = process.argv.find((arg) => arg.startsWith('--only='))?.split('=')[1];
type Engine = 'sqlite' | 'postgres';
const engineChoice = process.argv.find((arg) => arg.startsWith('--engine='))?.split('=')[1] ?? 'both';
if (!['sqlite', 'postgres', 'both'].includes(engineChoice)) throw new Error('--engine takes sqlite, postgres or both');
const postgresInstalled = missing(['postgres']).length === 0;
if (engineChoice === 'postgres' && !postgresInstalled) throw new Error('PostgreSQL is not installed: apt-get install -y postgresql');
const withPostgres = engineChoice !== 'sqlite' && postgresInstalled;
if (engineChoice === 'both' && !postgresInstalled) console.log('PostgreSQL not installed: SQLite only (apt-get install -y postgresql to measure both)');
let cluster: Promise<PostgresCluster> | undefined;
/** The run's PostgreSQL: durable (fsync on), so that a commit costs what it costs in production. */
const postgresCluster = () => (cluster ??= startPostgres({ durable: true }));
/** A fresh, migrated PostgreSQL database of the run's cluster: its URL. */
async function postgresDatabase(): Promise<string> {
  const url = await createDatabase((await postgresCluster()).url);
  const pool = postgresPool({ url, pool: 2, log: createLogger('error') });
  try {
    await migratePostgres(pool, createLogger('error'));
  } finally {
    await pool.end();
  }
  return url;
}

type Generator = { child: ChildProcess; call<T>(command: object): Promise<T> };

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

async function withGenerators<T>(work: (generators: Generator[]) => Promise<T>): Promise<T> {
  const generators = Array.from({ length: generatorCount }, generator);
  try {
    return await work(generators);
  } finally {
    for (const { child } of generators) child.kill();
  }
}

const all = <T>(generators: Generator[], command: (index: number) => object) => Promise.all(generators.map((g, i) => g.call<T>(command(i))));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const split = <T>(items: T[], parts: number) => Array.from({ length: parts }, (_, i) => items.filter((_, j) => j % parts === i));

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 per second)
}

function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]);
}

async function fresh<T>(plan: Parameters<typeof seed>[1], work: (server: TestServer, seeded: Awaited<ReturnType<typeof seed>>) => Promise<T>, engine: Engine = 'sqlite', env: Record<string, string> = {}): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  try {
    const url = engine === 'postgres' ? await postgresDatabase() : undefined;
    const driver = url ? postgresDriver(postgresPool({ url, pool: 4, log: createLogger('error') })) : sqliteAt(join(dir, 'parley.db'));
    const seeded = await seed(driver, plan);
    if (url) await driver.close();
    const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    // The load is the point here: the per-socket rate limit is lifted.
    const limits = { RATE_LIMIT_EVENTS: '1000000', RATE_LIMIT_BURST: '1000000' };
    const server = await startServer(undefined, { JWTSECRET: benchSecret, LOG_LEVEL: 'warn', ...limits, ...(url ? { DATABASE_URL: url } : {}), ...env }, dir, profile);
    try {
      return await work(server, seeded);
    } finally {
      await server.stop(profileDir ? 'SIGTERM' : 'SIGKILL'); // a profile is written only on a clean exit
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Opens the entries' sockets over the generators, then waits until every one of them has answered a
 * `ping`: the steps after it measure the server at work, not still taking a wave of logins in.
 */
async function enter(generators: Generator[], base: string, entries: Entry[][], concurrency = 50): Promise<{ sockets: number; seconds: number }> {
  const start = performance.now();
  const opened = await all<{ opened: number }>(generators, (i) => ({ cmd: 'connect', base, entries: entries[i], concurrency }));
  await all(generators, () => ({ cmd: 'ready' }));
  const result = { sockets: opened.reduce((sum, o) => sum + o.opened, 0), seconds: (performance.now() - start) / 1000 };
  console.log(`  ${result.sockets} sockets in and answering after ${result.seconds.toFixed(2)} s`);
  return result;
}
type Entry = { path: string; cookie?: string };

/** Waits until no generator has seen a frame for `quietMs`, up to `maxMs`. */
async function drain(generators: Generator[], quietMs = 300, maxMs = 5000): Promise<void> {
  const start = Date.now();
  for (;;) {
    await sleep(quietMs / 2);
    const reports = await all<{ lastFrameAt: number }>(generators, () => ({ cmd: 'report' }));
    const last = Math.max(...reports.map((r) => r.lastFrameAt));
    if (performance.timeOrigin + performance.now() - last > quietMs || Date.now() - start > maxMs) return;
  }
}

/** Chat: 500 pairs at stepped offered rates, against whatever `base` serves. */
async function chatSteps(generators: Generator[], pairs: [number, number, number][][], rates: number[], serverPid: number): Promise<ChatStep[]> {
  const steps: ChatStep[] = [];
  let failedInARow = 0;
  // Warm up (JIT, caches) at the lowest rate; not recorded.
  await all(generators, (i) => ({ cmd: 'chat', rate: rates[0]! / generators.length, seconds: 1, pairs: pairs[i] }));
  await drain(generators);
  for (const rate of rates) {
    await all(generators, () => ({ cmd: 'reset' }));
    const cpuBefore = cpuSeconds(serverPid);
    const began = performance.timeOrigin + performance.now();
    const sends = await all<{ sent: number; seconds: number; cpu: number }>(generators, (i) => ({ cmd: 'chat', rate: rate / generators.length, seconds: stepSeconds, pairs: pairs[i] }));
    const serverCpu = (cpuSeconds(serverPid) - cpuBefore) / Math.max(...sends.map((s) => s.seconds));
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
    const machineCpu = serverCpu + sends.reduce((sum, s) => sum + s.cpu, 0);
    const step: ChatStep = {
      offered: rate,
      delivered: Math.round(delivered / seconds),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
      errors,
      generatorCpu,
      serverCpu,
      generatorLimited: generatorCpu > 0.9 || sent / sendSeconds < rate * 0.95,
      machineLimited: machineCpu > 0.9 * cores,
    };
    steps.push(step);
    console.log(`  ${rate} msgs/s offered: ${step.delivered}/s delivered, p50 ${step.p50.toFixed(2)} ms, p99 ${step.p99.toFixed(2)} ms, max ${step.max.toFixed(1)} ms, ${errors} errors, server ${step.serverCpu.toFixed(2)} cores, busiest generator ${step.generatorCpu.toFixed(2)}${step.generatorLimited ? ' (generator-limited)' : ''}${step.machineLimited ? ' (all cores busy)' : ''}`);
    // Saturation is the highest passing step: one noisy step does not end the climb, two in a row do.
    if (!(step.p99 < 50) || errors > 0) {
      if (++failedInARow === 2) break;
    } else failedInARow = 0;
  }
  return steps;
}

function pairsFor(conversations: number[], socketsPerGenerator: (pair: number) => [number, number]): [number, number, number][][] {
  const byGenerator: [number, number, number][][] = Array.from({ length: generatorCount }, () => []);
  conversations.forEach((conversation, pair) => {
    const [a, b] = socketsPerGenerator(pair);
    byGenerator[pair % generatorCount]!.push([conversation, a, b]);
  });
  return byGenerator;
}

const chatRates = quick ? [1000, 5000, 10000, 20000, 30000, 40000] : [1000, 2000, 5000, 10000, 15000, 20000, 30000, 40000, 60000, 80000];
/** PostgreSQL commits what this machine's SQLite does many times over in far more time: finer steps, where it saturates. */
const postgresChatRates = quick ? [250, 500, 750, 1000, 1250, 1500, 2000, 3000] : [200, 400, 600, 800, 1000, 1200, 1400, 1700, 2000, 2500, 3000];

// Pair i lives in generator i % G, as sockets 2k and 2k+1 there (k = its rank in that generator).
const local = (pair: number): [number, number] => {
  const k = Math.floor(pair / generatorCount);
  return [2 * k, 2 * k + 1];
};

/** Parley's chat steps on one engine. */
function chatParley(engine: Engine): Promise<ChatStep[]> {
  return fresh({ users: 1000, pairs: 500 }, (server, seeded) =>
    withGenerators(async (generators) => {
      const entries = split(seeded.conversations.map((_, pair) => [2 * pair, 2 * pair + 1]), generatorCount).map((list) =>
        list.flatMap(([a, b]) => [a!, b!].map((user) => ({ path: '/ws', cookie: `login-token=${seeded.tokens[user]}` }))),
      );
      console.log(` Parley on ${engine}:`);
      await enter(generators, `ws://127.0.0.1:${server.port}`, entries);
      return chatSteps(generators, pairsFor(seeded.conversations, local), engine === 'postgres' ? postgresChatRates : chatRates, server.child.pid!);
    }),
  engine);
}

async function chat(): Promise<{ parley: ChatStep[]; relay: ChatStep[] }> {
  console.log('chat: 1,000 users in 500 pairs');
  const parley = await chatParley('sqlite');
  const relay = await withRelay((port, pid) =>
    withGenerators(async (generators) => {
      const conversations = Array.from({ length: 500 }, (_, i) => i + 1);
      const entries = split(conversations, generatorCount).map((list) => list.flatMap((pair) => [{ path: `/ws?pair=${pair}` }, { path: `/ws?pair=${pair}` }]));
      await all(generators, (i) => ({ cmd: 'connect', base: `ws://127.0.0.1:${port}`, entries: entries[i], concurrency: 50 }));
      console.log(' transport ceiling (bare uWebSockets.js relay):');
      return chatSteps(generators, pairsFor(conversations, local), chatRates, pid);
    }),
  );
  return { parley, relay };
}

async function withRelay<T>(work: (port: number, pid: number) => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'relay.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
    return await work((JSON.parse(line) as { port: number }).port, child.pid!);
  } finally {
    child.kill();
  }
}

async function storage(engine: Engine = 'sqlite'): Promise<number> {
  const target = engine === 'postgres' ? [await postgresDatabase()] : [];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'storage.ts'), String(quick ? 2 : 5), ...target], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk));
    child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`storage ceiling exited ${code}`))));
  });
  const { rate } = JSON.parse(output) as { rate: number };
  console.log(`storage ceiling (${engine}): ${Math.round(rate)} message rows/s, one transaction each`);
  return rate;
}

/** Fan-out steps: one member sends at stepped rates; every member's socket must get every message. */
async function fanoutSteps(generators: Generator[], conversation: number, serverPid: number, rates: number[]): Promise<FanoutStep[]> {
  const steps: FanoutStep[] = [];
  let failedInARow = 0;
  for (const rate of rates) {
    await all(generators, () => ({ cmd: 'reset' }));
    const cpuBefore = await all<number>(generators, () => ({ cmd: 'cpu' }));
    const serverBefore = cpuSeconds(serverPid);
    const send = await generators[0]!.call<{ sent: number; seconds: number }>({ cmd: 'fanout-send', rate, seconds: stepSeconds, socket: 0, conversation });
    await drain(generators);
    const serverCpu = (cpuSeconds(serverPid) - serverBefore) / send.seconds;
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

const fanoutRates = quick ? [50, 100, 200, 250, 400] : [25, 50, 100, 150, 200, 250, 300, 400, 600];

/** Parley's fan-out steps on one engine. */
function fanoutParley(engine: Engine): Promise<FanoutStep[]> {
  return fresh({ users: 1000, group: 1000 }, (server, seeded) =>
    withGenerators(async (generators) => {
      const entries = split(seeded.tokens.map((token) => ({ path: '/ws', cookie: `login-token=${token}` })), generatorCount);
      console.log(` Parley on ${engine}:`);
      await enter(generators, `ws://127.0.0.1:${server.port}`, entries);
      return fanoutSteps(generators, seeded.conversations[0]!, server.child.pid!, fanoutRates);
    }),
  engine);
}

async function fanout(): Promise<Results['fanout']> {
  console.log('fan-out: one conversation of 1,000 connected members');
  const rates = fanoutRates;
  const parley = await fanoutParley('sqlite');
  const relay = await withRelay((port, pid) =>
    withGenerators(async (generators) => {
      const entries = split(Array.from({ length: 1000 }, () => ({ path: '/ws?pair=everyone' })), generatorCount);
      await all(generators, (i) => ({ cmd: 'connect', base: `ws://127.0.0.1:${port}`, entries: entries[i], concurrency: 50 }));
      console.log(' transport ceiling (bare uWebSockets.js relay, one topic):');
      return fanoutSteps(generators, 0, pid, rates);
    }),
  );
  return { parley, relay };
}

async function presence(): Promise<Results['presence']> {
  console.log('presence storm: 2,000 users with 50 contacts each, in waves of 500');
  return fresh({ users: 2000, contacts: 50 }, (server, seeded) =>
    withGenerators(async (generators) => {
      const waves = [];
      const waveSize = 500;
      for (let wave = 0; wave < 2000 / waveSize; wave++) {
        await all(generators, () => ({ cmd: 'reset' }));
        const users = Array.from({ length: waveSize }, (_, i) => wave * waveSize + i);
        const entries = split(users.map((user) => ({ path: '/ws', cookie: `login-token=${seeded.tokens[user]}` })), generatorCount);
        const start = performance.timeOrigin + performance.now();
        const opened = await all<{ opened: number; seconds: number }>(generators, (i) => ({ cmd: 'connect', base: `ws://127.0.0.1:${server.port}`, entries: entries[i], concurrency: 100 }));
        await drain(generators, 300);
        const reports = await all<{ statuses: number; lastFrameAt: number }>(generators, () => ({ cmd: 'report' }));
        const statuses = reports.reduce((sum, r) => sum + r.statuses, 0);
        const end = Math.max(start, ...reports.map((r) => r.lastFrameAt));
        const connectSeconds = Math.max(...opened.map((o) => o.seconds));
        waves.push({ kind: 'connect', sockets: opened.reduce((s, o) => s + o.opened, 0), connectsPerSecond: Math.round(waveSize / connectSeconds), statuses, statusesPerSecond: Math.round(statuses / ((end - start) / 1000)) });
      }
      for (let wave = 0; wave < 2000 / waveSize; wave++) {
        await all(generators, () => ({ cmd: 'reset' }));
        const per = waveSize / generatorCount;
        const start = performance.timeOrigin + performance.now();
        await all(generators, () => ({ cmd: 'close', from: wave * per, to: (wave + 1) * per }));
        await drain(generators, 300);
        const reports = await all<{ statuses: number; lastFrameAt: number }>(generators, () => ({ cmd: 'report' }));
        const statuses = reports.reduce((sum, r) => sum + r.statuses, 0);
        const end = Math.max(start + 1, ...reports.map((r) => r.lastFrameAt));
        waves.push({ kind: 'disconnect', sockets: waveSize, connectsPerSecond: 0, statuses, statusesPerSecond: Math.round(statuses / ((end - start) / 1000)) });
      }
      for (const w of waves) console.log(`  ${w.kind} ${w.sockets}: ${w.kind === 'connect' ? `${w.connectsPerSecond} connects/s, ` : ''}${w.statuses} user_status at ${w.statusesPerSecond}/s`);
      return { waves };
    }),
  );
}

async function memory(): Promise<Results['memory']> {
  const sockets = 10_000;
  console.log(`memory: ${sockets.toLocaleString('en')} idle authenticated sockets`);
  return fresh({ users: sockets }, (server, seeded) =>
    withGenerators(async (generators) => {
      await sleep(1000);
      const before = rssKiB(server.child.pid!);
      const entries = split(seeded.tokens.map((token) => ({ path: '/ws', cookie: `login-token=${token}` })), generatorCount);
      const opened = await all<{ opened: number; seconds: number }>(generators, (i) => ({ cmd: 'connect', base: `ws://127.0.0.1:${server.port}`, entries: entries[i], concurrency: 100 }));
      const count = opened.reduce((sum, o) => sum + o.opened, 0);
      await sleep(quick ? 1500 : 3000);
      const after = rssKiB(server.child.pid!);
      const result = { sockets: count, rssBeforeKiB: before, rssAfterKiB: after, perSocketKiB: (after - before) / count, connectsPerSecond: Math.round(count / Math.max(...opened.map((o) => o.seconds))) };
      console.log(`  RSS ${(before / 1024).toFixed(1)} MiB → ${(after / 1024).toFixed(1)} MiB: ${result.perSocketKiB.toFixed(2)} KiB per socket (${result.connectsPerSecond} connects/s)`);
      return result;
    }),
  );
}

/**
 * The chat step again with 1,000 members who are never connected, two in each pair's conversation,
 * each with a browser's push subscription at the local HTTPS push service (its own process, checking
 * VAPID and decrypting): every message queues notifications in its transaction and the worker sends
 * them (coalesced per PUSH_COALESCE_SECONDS, 30 by default) while the chat goes on.
 */
async function chatWithDevices(): Promise<{ steps: ChatStep[]; notifications: number }> {
  console.log('chat with 1,000 offline members holding devices (two in each of the 500 conversations):');
  const keys = webpush.generateVAPIDKeys();
  const child = fork(join(here, 'push-endpoint.ts'), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, VAPID_PUBLIC_KEY: keys.publicKey, COUNT: '1000' } });
  const caDir = mkdtempSync(join(tmpdir(), 'parley-bench-ca-'));
  try {
    const [ready] = (await once(child, 'message')) as [{ host: string; ca: string; subscriptions: Subscription[] }];
    writeFileSync(join(caDir, 'ca.pem'), ready.ca);
    const env = { VAPID_PUBLIC_KEY: keys.publicKey, VAPID_PRIVATE_KEY: keys.privateKey, PUSH_ENDPOINT_HOSTS: ready.host, NODE_EXTRA_CA_CERTS: join(caDir, 'ca.pem') };
    const steps = await fresh({ users: 2000, pairs: 500, offline: ready.subscriptions }, (server, seeded) =>
      withGenerators(async (generators) => {
        const entries = split(seeded.conversations.map((_, pair) => [2 * pair, 2 * pair + 1]), generatorCount).map((list) =>
          list.flatMap(([a, b]) => [a!, b!].map((user) => ({ path: '/ws', cookie: `login-token=${seeded.tokens[user]}` }))),
        );
        console.log(' Parley (sqlite), offline members with devices:');
        await enter(generators, `ws://127.0.0.1:${server.port}`, entries);
        return chatSteps(generators, pairsFor(seeded.conversations, local), chatRates, server.child.pid!);
      }), 'sqlite', env);
    child.send('report');
    const [report] = (await once(child, 'message')) as [{ received: number; rejected: unknown[] }];
    console.log(`  the push service received ${report.received} notifications (${report.rejected.length} refused)`);
    return { steps, notifications: report.received };
  } finally {
    child.kill();
    rmSync(caDir, { recursive: true, force: true });
  }
}

/** The same storage ceiling, chat and fan-out on PostgreSQL (the transport ceiling is the SQLite run's). */
async function postgresRun(): Promise<NonNullable<Results['postgres']>> {
  console.log('PostgreSQL (durable: fsync on):');
  const results = { storage: await storage('postgres'), chat: await chatParley('postgres'), fanout: await fanoutParley('postgres') };
  return results;
}

const scenarios = { storage, chat, fanout, presence, memory, hammer: () => hammer(quick), push: () => pushBench(quick), postgres: postgresRun, pgfanout: () => fanoutParley('postgres'), pgchat: () => chatParley('postgres'), pushchat: chatWithDevices, files: () => measureFiles(quick) };
if (only) {
  // One scenario, printed but not recorded: for profiling and tuning.
  if (!Object.hasOwn(scenarios, only)) throw new Error(`--only takes one of ${Object.keys(scenarios).join(', ')}`);
  await scenarios[only as keyof typeof scenarios]();
  await (await cluster)?.destroy();
  process.exit(0);
}
if (engineChoice === 'postgres') {
  // PostgreSQL alone: printed, not recorded (the full run records both engines side by side).
  const postgres = await postgresRun();
  await (await cluster)?.destroy();
  console.log(`\n${renderRows(postgresRows({ postgres }))}`);
  process.exit(0);
}

const started = Date.now();
const results: Results = {
  date: new Date().toISOString(),
  quick,
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, generators: generatorCount },
  storage: await storage(),
  chat: await chat(),
  fanout: await fanout(),
  presence: await presence(),
  memory: await memory(),
  hammer: await hammer(quick),
  pushChat: await chatWithDevices(),
  files: await measureFiles(quick),
  ...(withPostgres ? { postgres: await postgresRun() } : {}),
  seconds: 0,
};
await (await cluster)?.destroy();
results.seconds = Math.round((Date.now() - started) / 1000);
const out = new URL('./results/', import.meta.url).pathname;
writeFileSync(join(out, quick ? 'quick.json' : 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(out, quick ? 'quick.svg' : 'latest.svg'), renderChart(results));
console.log(`\n${renderTable(results)}\n\nwrote test/bench/results/${quick ? 'quick' : 'latest'}.{json,svg} in ${results.seconds} s`);
