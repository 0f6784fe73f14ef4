// A load test from outside, through the seed's protocol only (register, login, create_conversation,
// send_message), so that any version of Parley, or another server of the same protocol, can be measured
// with the same client: `pairs` pairs of users, each pair's first user keeping `inflight` messages on
// their way to the second (a new one sent as each arrives) for `seconds`. Prints delivered messages per
// second and the latency from send to arrival, and the server's CPU when given its process ids.
//
//   tsx test/bench/inflight.ts http://127.0.0.1:8000 [--pairs=50] [--inflight=8] [--seconds=8] [--workers=2] [--pids=123,456]
//
// The server needs its registration and event rate limits lifted (REGISTRATIONS_PER_HOUR,
// RATE_LIMIT_EVENTS, RATE_LIMIT_BURST, and for Parley since review 25 RATE_LIMIT_WORK_MS and
// RATE_LIMIT_WORK_BURST_MS), as for any load test. Several URLs (comma-separated) spread the
// users over them: pair i's first user on URL i, its second on URL i + 1 (nodes of a cluster).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

type Args = { urls: string[]; pairs: number; inflight: number; seconds: number; workers: number; pids: number[] };
type Report = { delivered: number; latencies: number[]; errors: number; frames: Record<string, number> };

const option = (name: string, fallback: number) => Number(process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);

function parse(): Args {
  const urls = (process.argv[2] ?? '').split(',').filter(Boolean);
  if (urls.length === 0 || process.argv[2]!.startsWith('--')) throw new Error('usage: tsx test/bench/inflight.ts URL[,URL...] [--pairs=50] [--inflight=8] [--seconds=8] [--workers=2] [--pids=...]');
  const pids = (process.argv.find((arg) => arg.startsWith('--pids='))?.split('=')[1] ?? '').split(',').filter(Boolean).map(Number);
  return { urls, pairs: option('pairs', 50), inflight: option('inflight', 8), seconds: option('seconds', 8), workers: option('workers', 2), pids };
}

const cpuSeconds = (pids: number[]) => pids.reduce((sum, pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return sum + (Number(fields[11]) + Number(fields[12])) / 100;
}, 0);

/** A POST, tried again while the server says it is busy (password checks at once from one address are limited). */
async function http(url: string, path: string, body: object): Promise<Response> {
  for (;;) {
    const response = await fetch(new URL(path, url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (response.status !== 429) return response;
    await response.text();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A logged-in socket: requests answered by `ref`, pushes to `onPush`. */
async function socket(url: string, username: string): Promise<{ request(frame: object): Promise<Record<string, unknown>>; onPush(listener: (envelope: Record<string, unknown>) => void): void; close(): void }> {
  const password = 'inflight password';
  const registered = await http(url, '/register', { username, password, fullname: username });
  if (registered.status !== 201) throw new Error(`register ${username}: ${registered.status} ${await registered.text()}`);
  const login = await http(url, '/auth/login', { username, password });
  const cookie = login.headers.getSetCookie().map((line) => line.split(';', 1)[0]).find((pair) => pair!.startsWith('login-token='));
  if (!cookie) throw new Error(`login ${username}: ${login.status}`);
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws', { headers: { cookie } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const waiting = new Map<string, (envelope: Record<string, unknown>) => void>();
  let listener: (envelope: Record<string, unknown>) => void = () => {};
  let next = 0;
  ws.on('message', (raw) => {
    const envelope = JSON.parse(String(raw)) as Record<string, unknown>;
    const ref = envelope.ref as string | undefined;
    if (ref !== undefined && waiting.has(ref)) {
      waiting.get(ref)!(envelope);
      waiting.delete(ref);
    } else listener(envelope);
  });
  return {
    request: (frame) => new Promise((resolve) => {
      const ref = `r${next++}`;
      waiting.set(ref, resolve);
      ws.send(JSON.stringify({ ...frame, ref }));
    }),
    onPush: (given) => (listener = given),
    close: () => ws.close(),
  };
}

/** One worker's pairs: sets them up, then keeps `inflight` messages on their way per pair. */
async function work(args: Args, first: number, count: number, prefix: string): Promise<Report> {
  const pairs = await Promise.all(Array.from({ length: count }, async (_, k) => {
    const i = first + k;
    const [a, b] = [args.urls[i % args.urls.length]!, args.urls[(i + 1) % args.urls.length]!];
    const sender = await socket(a, `${prefix}a${i}`);
    const receiver = await socket(b, `${prefix}b${i}`);
    const created = await sender.request({ type: 'create_conversation', members: [`${prefix}b${i}`] });
    if (created.success !== true) throw new Error(`create_conversation: ${JSON.stringify(created)}`);
    return { sender, receiver, conversation: (created.data as { id: number }).id };
  }));
  process.send!({ ready: true });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const report: Report = { delivered: 0, latencies: [], errors: 0, frames: {} };
  const tally = (envelope: Record<string, unknown>) => void (report.frames[String(envelope.type)] = (report.frames[String(envelope.type)] ?? 0) + 1);
  const end = performance.now() + args.seconds * 1000;
  let outstanding = 0;
  let done: () => void = () => {};
  const drained = new Promise<void>((resolve) => (done = resolve));
  for (const { sender, receiver, conversation } of pairs) {
    const send = () => {
      outstanding++;
      sender.request({ type: 'send_message', conversation_id: conversation, content: `${performance.timeOrigin + performance.now()}` }).then((reply) => {
        if (reply.success !== true) report.errors++;
      });
    };
    sender.onPush(tally);
    receiver.onPush((envelope) => {
      tally(envelope);
      if (envelope.type !== 'send_message') return;
      const sentAt = Number((envelope.data as { content: string }).content);
      report.delivered++;
      report.latencies.push(performance.timeOrigin + performance.now() - sentAt);
      outstanding--;
      if (performance.now() < end) send();
      else if (outstanding === 0) done();
    });
    for (let n = 0; n < args.inflight; n++) send();
  }
  await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, args.seconds * 1000 + 10_000))]);
  for (const { sender, receiver } of pairs) {
    sender.close();
    receiver.close();
  }
  return report;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

if (process.send && process.env.INFLIGHT_WORKER) {
  const { first, count, prefix } = JSON.parse(process.env.INFLIGHT_WORKER) as { first: number; count: number; prefix: string };
  // Exits once the report has gone: an IPC message sent just before exit may be lost.
  process.send({ report: await work(parse(), first, count, prefix) }, () => process.exit(0));
} else {
  const args = parse();
  const prefix = `if${Date.now().toString(36)}`;
  const per = Math.ceil(args.pairs / args.workers);
  const workers = Array.from({ length: args.workers }, (_, w) => fork(new URL(import.meta.url).pathname, process.argv.slice(2), {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, INFLIGHT_WORKER: JSON.stringify({ first: w * per, count: Math.max(0, Math.min(per, args.pairs - w * per)), prefix }) },
  }));
  await Promise.all(workers.map((child) => new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`a worker exited (${code}) while setting up`)));
  })));
  const cpuBefore = cpuSeconds(args.pids);
  const started = performance.now();
  const reports = Promise.all(workers.map((child) => new Promise<Report>((resolve, reject) => {
    child.on('message', (message: { report?: Report }) => message.report && resolve(message.report));
    child.once('exit', (code) => reject(new Error(`a worker exited (${code}) without its report`)));
  })));
  for (const child of workers) child.send('go');
  const all = await reports;
  const seconds = (performance.now() - started) / 1000;
  const cpu = args.pids.length ? (cpuSeconds(args.pids) - cpuBefore) / seconds : NaN;
  const latencies = all.flatMap((report) => report.latencies).sort((a, b) => a - b);
  const delivered = all.reduce((sum, report) => sum + report.delivered, 0);
  const errors = all.reduce((sum, report) => sum + report.errors, 0);
  const frames: Record<string, number> = {};
  for (const report of all) for (const [type, n] of Object.entries(report.frames)) frames[type] = (frames[type] ?? 0) + n;
  const result = { pairs: args.pairs, inflight: args.inflight, delivered, perSecond: Math.round(delivered / seconds), p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors, serverCores: cpu, cpuMicrosPerMessage: (1e6 * cpu * seconds) / delivered, pushesPerMessage: Object.fromEntries(Object.entries(frames).map(([type, n]) => [type, Math.round((100 * n) / delivered) / 100])) };
  console.log(JSON.stringify(result));
}
