// `npm run bench [-- --quick] [-- --engine=sqlite|postgres|both]`: Parley against its own ceilings,
// measured in one run on this machine; on PostgreSQL too when it is installed (a durable throwaway
// cluster started for the run). `npm run bench -- --cluster`: one node against several (cluster.ts).
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { missing } from '../helpers/installed.ts';
import { postgresRows, renderChart, renderRows, renderTable, type Results, type ChatStep } from './report.ts';
import { hammer } from './hammer.ts';
import { pushBench } from './push.ts';
import { once } from 'node:events';
import webpush from 'web-push';
import type { Subscription } from '../../src/push/types.ts';
import { measureFiles } from './files.ts';
import {
  all, chatParley, chatRates, chatSteps, drain, enter, fanoutParley, fanoutRates, fanoutSteps, fresh, generatorCount, here, local,
  loginOf, machine, oneNode, pairEntries, pairsFor, pidsOf, postgresDatabase, quick, rssKiB, sleep, split, stopPostgres, withGenerators,
} from './drive.ts';
import { measureCluster } from './cluster.ts';
import { threadReplies } from './threads.ts';
import { describeCeiling, postgresCeiling } from './ceiling.ts';
import { retentionBench } from './retention.ts';
import { exportBench } from './export.ts';

const only = process.argv.find((arg) => arg.startsWith('--only='))?.split('=')[1];
const engineChoice = process.argv.find((arg) => arg.startsWith('--engine='))?.split('=')[1] ?? 'both';
if (!['sqlite', 'postgres', 'both'].includes(engineChoice)) throw new Error('--engine takes sqlite, postgres or both');
const postgresInstalled = missing(['postgres']).length === 0;
if (engineChoice === 'postgres' && !postgresInstalled) throw new Error('PostgreSQL is not installed: apt-get install -y postgresql');
const withPostgres = engineChoice !== 'sqlite' && postgresInstalled;
if (engineChoice === 'both' && !postgresInstalled) console.log('PostgreSQL not installed: SQLite only (apt-get install -y postgresql to measure both)');

async function chat(): Promise<{ parley: ChatStep[]; relay: ChatStep[] }> {
  console.log('chat: 1,000 users in 500 pairs');
  const parley = await chatParley(oneNode('sqlite'));
  const relay = await withRelay((port, pid) =>
    withGenerators(async (generators) => {
      const conversations = Array.from({ length: 500 }, (_, i) => i + 1);
      const entries = split(conversations, generatorCount).map((list) => list.flatMap((pair) => [{ url: `ws://127.0.0.1:${port}/ws?pair=${pair}` }, { url: `ws://127.0.0.1:${port}/ws?pair=${pair}` }]));
      await all(generators, (i) => ({ cmd: 'connect', entries: entries[i], concurrency: 50 }));
      console.log(' transport ceiling (bare uWebSockets.js relay):');
      return chatSteps(generators, pairsFor(conversations, local), chatRates, [pid]);
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

async function storage(): Promise<number> {
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'storage.ts'), String(quick ? 2 : 5)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk));
    child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`storage ceiling exited ${code}`))));
  });
  const { rate } = JSON.parse(output) as { rate: number };
  console.log(`storage ceiling (sqlite): ${Math.round(rate)} message rows/s, one transaction each`);
  return rate;
}

async function fanout(): Promise<Results['fanout']> {
  console.log('fan-out: one conversation of 1,000 connected members');
  const rates = fanoutRates;
  const parley = await fanoutParley(oneNode('sqlite'));
  const relay = await withRelay((port, pid) =>
    withGenerators(async (generators) => {
      const entries = split(Array.from({ length: 1000 }, () => ({ url: `ws://127.0.0.1:${port}/ws?pair=everyone` })), generatorCount);
      await all(generators, (i) => ({ cmd: 'connect', entries: entries[i], concurrency: 50 }));
      console.log(' transport ceiling (bare uWebSockets.js relay, one topic):');
      return fanoutSteps(generators, 0, [pid], rates);
    }),
  );
  return { parley, relay };
}

async function presence(): Promise<Results['presence']> {
  console.log('presence storm: 2,000 users with 50 contacts each, in waves of 500');
  return fresh({ users: 2000, contacts: 50 }, (nodes, seeded) =>
    withGenerators(async (generators) => {
      const login = loginOf(nodes, seeded);
      const waves = [];
      const waveSize = 500;
      for (let wave = 0; wave < 2000 / waveSize; wave++) {
        await all(generators, () => ({ cmd: 'reset' }));
        const users = Array.from({ length: waveSize }, (_, i) => wave * waveSize + i);
        const entries = split(users.map((user) => login(user)), generatorCount);
        const start = performance.timeOrigin + performance.now();
        const opened = await all<{ opened: number; seconds: number }>(generators, (i) => ({ cmd: 'connect', entries: entries[i], concurrency: 100 }));
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
  return fresh({ users: sockets }, (nodes, seeded) =>
    withGenerators(async (generators) => {
      const [server] = nodes;
      const login = loginOf(nodes, seeded);
      await sleep(1000);
      const before = rssKiB(server.child.pid!);
      const entries = split(seeded.tokens.map((_, user) => login(user)), generatorCount);
      const opened = await all<{ opened: number; seconds: number }>(generators, (i) => ({ cmd: 'connect', entries: entries[i], concurrency: 100 }));
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
    const steps = await fresh({ users: 2000, pairs: 500, offline: ready.subscriptions }, (nodes, seeded) =>
      withGenerators(async (generators) => {
        console.log(' Parley (sqlite), offline members with devices:');
        await enter(generators, pairEntries(seeded.conversations.length, loginOf(nodes, seeded)));
        return chatSteps(generators, pairsFor(seeded.conversations, local), chatRates, pidsOf(nodes));
      }), oneNode('sqlite'), env);
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
  const ceiling = await postgresCeiling(await postgresDatabase(), quick ? 2 : 5);
  console.log(`PostgreSQL itself (pgbench): ${describeCeiling(ceiling)}`);
  return { storage: ceiling, chat: await chatParley(oneNode('postgres')), fanout: await fanoutParley(oneNode('postgres')) };
}

const scenarios = { storage, chat, fanout, presence, memory, hammer: () => hammer(quick, withPostgres ? (engineChoice === 'both' ? ['sqlite', 'postgres'] : ['postgres']) : ['sqlite']), push: () => pushBench(quick), postgres: postgresRun, pgfanout: () => fanoutParley(oneNode('postgres')), pgchat: () => chatParley(oneNode('postgres')), clusterchat: () => chatParley({ engine: 'postgres', nodes: 3 }), pgceiling: async () => console.log(describeCeiling(await postgresCeiling(await postgresDatabase(), quick ? 2 : 5))), sqlchat: () => chatParley(oneNode('sqlite')), pushchat: chatWithDevices, files: () => measureFiles(quick), cluster: measureCluster,
  threads: () => threadReplies('sqlite', quick ? [2000] : [2000, 5000, 10000]), pgthreads: () => threadReplies('postgres', quick ? [1000] : [1000, 2000, 4000]),
  retention: () => retentionBench('sqlite', quick), pgretention: () => retentionBench('postgres', quick), export: () => exportBench('sqlite', quick), pgexport: () => exportBench('postgres', quick) };
if (only) {
  // One scenario, printed but not recorded: for profiling and tuning.
  if (!Object.hasOwn(scenarios, only)) throw new Error(`--only takes one of ${Object.keys(scenarios).join(', ')}`);
  await scenarios[only as keyof typeof scenarios]();
  await stopPostgres();
  process.exit(0);
}
if (process.argv.includes('--cluster')) {
  const results = await measureCluster();
  await stopPostgres();
  const file = quick ? 'quick.cluster.json' : 'cluster.json';
  writeFileSync(join(new URL('./results', import.meta.url).pathname, file), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote test/bench/results/${file} in ${results.seconds} s`);
  process.exit(0);
}
if (engineChoice === 'postgres') {
  // PostgreSQL alone: printed, not recorded (the full run records both engines side by side).
  const postgres = await postgresRun();
  await stopPostgres();
  console.log(`\n${renderRows(postgresRows({ postgres }))}`);
  process.exit(0);
}

const started = Date.now();
const results: Results = {
  date: new Date().toISOString(),
  quick,
  machine: machine(),
  storage: await storage(),
  chat: await chat(),
  fanout: await fanout(),
  presence: await presence(),
  memory: await memory(),
  hammer: await hammer(quick),
  pushChat: await chatWithDevices(),
  files: await measureFiles(quick),
  retention: [await retentionBench('sqlite', quick), ...(withPostgres ? [await retentionBench('postgres', quick)] : [])],
  export: [await exportBench('sqlite', quick), ...(withPostgres ? [await exportBench('postgres', quick)] : [])],
  ...(withPostgres ? { postgres: await postgresRun() } : {}),
  seconds: 0,
};
await stopPostgres();
results.seconds = Math.round((Date.now() - started) / 1000);
const out = new URL('./results', import.meta.url).pathname;
writeFileSync(join(out, quick ? 'quick.json' : 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(out, quick ? 'quick.svg' : 'latest.svg'), renderChart(results));
console.log(`\n${renderTable(results)}\n\nwrote test/bench/results/${quick ? 'quick' : 'latest'}.{json,svg} in ${results.seconds} s`);
