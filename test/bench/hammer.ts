// Expensive reads: a bystander's ping while one account with 16 sockets, at the default rate limits,
// hammers one event type at a time over a channel of 200,000 messages, 20,000 channels and 20,000
// conversations, on SQLite and on PostgreSQL; then floods one incoming webhook's URL 16 posts at a time;
// then uploads image bombs 16 at a time, and the server's memory is measured before and after.
import WebSocket from 'ws';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { fresh, oneNode, percentile, rssKiB, sleep, type Engine } from './drive.ts';
import { exchange } from '../helpers/bytes.ts';
import type { TestServer } from '../helpers/server.ts';

/** A bystander's pings: how many, and their round trips (ms). */
export type Pings = { pings: number; p50: number; p99: number; max: number };
/** `rss`: the server's resident memory before the phase and once its image workers are gone after it (MiB), for the image bombs. */
export type HammerPhase = Pings & { name: string; answered: number; refused: number; rss?: { beforeMiB: number; afterMiB: number } };
export type HammerResult = { messages: number; phases: HammerPhase[] };

/** `--phase=<words>`: only the phases whose name holds them (and the idle one), to measure one phase again and again. */
const only = process.argv.find((arg) => arg.startsWith('--phase='))?.split('=')[1];

/** The limits a fresh install has: the bench's own lifted ones are put back. */
const defaults = { RATE_LIMIT_EVENTS: '50', RATE_LIMIT_BURST: '200', RATE_LIMIT_WORK_MS: '100', RATE_LIMIT_WORK_BURST_MS: '250' };
const sockets = 16;
/** Frames each hammer socket sends at once, again as soon as all are answered (after the announced wait when some were refused). */
const burst = 25;

export async function open(server: TestServer, token: string): Promise<WebSocket> {
  const socket = new WebSocket(server.ws, { headers: { cookie: `login-token=${token}` } });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  // The token is checked after the upgrade: one answered ping means the socket is registered.
  await roundTrip(socket, '{"type":"ping"}');
  return socket;
}

function roundTrip(socket: WebSocket, frame: string): Promise<number> {
  const start = performance.now();
  return new Promise((resolve) => {
    socket.once('message', () => resolve(performance.now() - start));
    socket.send(frame);
  });
}

/** Waits until the account's pings are answered again: whatever it owed the server is paid off. */
async function paidOff(socket: WebSocket): Promise<void> {
  for (;;) {
    const text = await new Promise<string>((resolve) => {
      socket.once('message', (data) => resolve(String(data)));
      socket.send('{"type":"ping"}');
    });
    if (!text.includes('"success":false')) return;
    await sleep(Number(/retry in (\d+) ms/.exec(text)?.[1] ?? 1000));
  }
}

/** One hammer socket: bursts of `frame` until `stopped`; counts what was answered and refused. */
async function flood(socket: WebSocket, frame: string, stopped: () => boolean, counts: { answered: number; refused: number }): Promise<void> {
  while (!stopped()) {
    let waitMs = 0;
    await new Promise<void>((resolve) => {
      let left = burst;
      const onReply = (data: WebSocket.RawData) => {
        const text = String(data);
        if (text.includes('"success":false')) {
          counts.refused++;
          waitMs = Math.max(waitMs, Number(/retry in (\d+) ms/.exec(text)?.[1] ?? 1000));
        } else counts.answered++;
        if (--left === 0) {
          socket.off('message', onReply);
          resolve();
        }
      };
      socket.on('message', onReply);
      for (let i = 0; i < burst; i++) socket.send(frame);
    });
    if (waitMs) await sleep(Math.min(waitMs, 1000));
  }
}

/** A 3400 x 3400 AVIF of one colour: a few hundred bytes, seconds of a core to decode and clean. */
const avifBomb = () => sharp({ create: { width: 3400, height: 3400, channels: 3, background: '#3a7' } }).avif({ effort: 0 }).toBuffer();

/** One uploader: bombs one after another until `stopped`; a refusal (429: too many under way, or the hourly cap) waits its Retry-After, at most 1 s. */
async function bombard(server: TestServer, token: string, bomb: Buffer, stopped: () => boolean, counts: { answered: number; refused: number }): Promise<void> {
  while (!stopped()) {
    const { status, headers } = await exchange(server.http, 'POST', '/files?filename=bomb.avif', { body: bomb, headers: { cookie: `login-token=${token}` } });
    if (status === 201) counts.answered++;
    else {
      counts.refused++;
      await sleep(Math.min(1000, Number(headers['retry-after'] ?? 1) * 1000));
    }
  }
}

/** One poster to a webhook's URL: posts one after another until `stopped`, ignoring every Retry-After (a flood does). */
async function postFlood(server: TestServer, url: string, stopped: () => boolean, counts: { answered: number; refused: number }): Promise<void> {
  const body = JSON.stringify({ content: 'disk almost full' });
  while (!stopped()) {
    const { status } = await exchange(server.http, 'POST', url, { body, headers: { 'content-type': 'application/json' } });
    if (status === 200) counts.answered++;
    else counts.refused++;
  }
}

/** Sends a frame and resolves with the `data` of its reply (pushes that come first are passed over). */
export function replyTo(socket: WebSocket, frame: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const envelope = JSON.parse(String(data)) as { type: string; ref?: string; data: Record<string, unknown> };
      if (envelope.ref !== 'bench') return;
      socket.off('message', onMessage);
      resolve(envelope.data);
    };
    socket.on('message', onMessage);
    socket.send(JSON.stringify({ ...frame, ref: 'bench' }));
  });
}

/** The processes the server started (its image workers). */
const childrenOf = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);

/** The bystander pings every 5 ms, one ping at a time, while `going()`: its round trips (ms). */
export async function pingWhile(bystander: WebSocket, going: () => boolean): Promise<Pings> {
  const latencies: number[] = [];
  while (going()) {
    latencies.push(await roundTrip(bystander, '{"type":"ping"}'));
    await sleep(5);
  }
  latencies.sort((a, b) => a - b);
  return { pings: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN };
}

/** The bystander pings every 5 ms for `seconds` while the hammer floods `load` (frames on its sockets, or uploads). */
async function phase(name: string, bystander: WebSocket, load: ((stopped: () => boolean, counts: { answered: number; refused: number }) => Promise<void>[]) | undefined, seconds: number): Promise<HammerPhase> {
  const counts = { answered: 0, refused: 0 };
  let stop = false;
  const floods = load ? load(() => stop, counts) : [];
  const until = performance.now() + seconds * 1000;
  const pings = await pingWhile(bystander, () => performance.now() < until);
  stop = true;
  await Promise.all(floods);
  const result = { name, ...pings, ...counts };
  console.log(`  ${name}: bystander ping p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, max ${result.max.toFixed(1)} ms (${result.pings} pings); hammer answered ${counts.answered}, refused ${counts.refused}`);
  return result;
}

async function hammerOn(engine: Engine, quick: boolean, messages: number): Promise<HammerPhase[]> {
  const seconds = quick ? 3 : 6;
  const plan = { users: 3, channel: messages, channels: 20_000, conversations: 20_000 };
  console.log(`  ${engine}: seeding ${messages.toLocaleString('en')} messages, 20,000 channels and 20,000 conversations`);
  return fresh(plan, async ([server], seeded) => {
    const channel = seeded.conversations[0]!;
    const hammer = await Promise.all(Array.from({ length: sockets }, () => open(server, seeded.tokens[0]!)));
    const bystander = await open(server, seeded.tokens[1]!);
    const frames: [string, string | undefined][] = [
      ['no hammer', undefined],
      ['prefix search', '{"type":"search_messages","query":"w*"}'],
      ['list_channels matching nothing', '{"type":"list_channels","query":"no such channel"}'],
      ['get_conversations', '{"type":"get_conversations"}'],
      ['sync from the start', '{"type":"sync","since":0}'],
      ['get_messages', `{"type":"get_messages","conversation_id":${channel}}`],
      ['get_files', `{"type":"get_files","conversation_id":${channel}}`],
    ];
    const phases: HammerPhase[] = [];
    const bombs = !only || 'image bombs'.includes(only);
    const chosen = frames.filter(([name, frame]) => !frame || !only || name.includes(only));
    for (const [i, [name, frame]] of chosen.entries()) {
      const load = frame ? (stopped: () => boolean, counts: { answered: number; refused: number }) => hammer.map((socket) => flood(socket, frame, stopped, counts)) : undefined;
      phases.push(await phase(`${engine}, ${name}`, bystander, load, seconds));
      if (!frame || (i === chosen.length - 1 && !bombs)) continue;
      // Each phase starts with the account's budget paid off and its buckets full.
      await paidOff(hammer[0]!);
      await sleep(4000);
    }
    if (!only || 'webhook flood'.includes(only)) {
      // Into a group of the hammer's account alone: the bystander hears nothing of it, only its own pings.
      const alerts = await replyTo(hammer[0]!, { type: 'create_conversation', kind: 'group', name: 'alerts', members: [] });
      const { url } = await replyTo(hammer[0]!, { type: 'create_webhook', conversation_id: alerts.id, name: 'Monitoring' });
      const load = (stopped: () => boolean, counts: { answered: number; refused: number }) => hammer.map(() => postFlood(server, url as string, stopped, counts));
      phases.push(await phase(`${engine}, webhook flood (one URL, ${sockets} posts at once)`, bystander, load, seconds));
    }
    if (bombs) {
      const pid = server.child.pid!;
      const bomb = await avifBomb();
      const before = rssKiB(pid) / 1024;
      // As many uploads at once as the account has sockets; the server takes a few at a time and refuses the rest with 429.
      const load = (stopped: () => boolean, counts: { answered: number; refused: number }) => hammer.map(() => bombard(server, seeded.tokens[0]!, bomb, stopped, counts));
      const bombs = await phase(`${engine}, image bombs (AVIF 3400 x 3400, ${bomb.length} bytes)`, bystander, load, seconds * 2);
      // Idle image workers end after 5 s and give their memory back; then the server's own is measured.
      const deadline = performance.now() + 30_000;
      while (childrenOf(pid).length > 0 && performance.now() < deadline) await sleep(100);
      bombs.rss = { beforeMiB: before, afterMiB: rssKiB(pid) / 1024 };
      console.log(`  ${engine}, image bombs: server RSS ${bombs.rss.beforeMiB.toFixed(0)} MiB before, ${bombs.rss.afterMiB.toFixed(0)} MiB after (${(bombs.rss.afterMiB - bombs.rss.beforeMiB).toFixed(0)} MiB; workers left: ${childrenOf(pid).length})`);
      phases.push(bombs);
    }
    return phases;
  }, oneNode(engine), defaults);
}

export async function hammer(quick: boolean, engines: readonly Engine[] = ['sqlite', 'postgres']): Promise<HammerResult> {
  const messages = 200_000;
  console.log(`expensive reads: a bystander's ping while one account with ${sockets} sockets hammers one event type at a time, at the default rate limits`);
  const phases: HammerPhase[] = [];
  for (const engine of engines) phases.push(...(await hammerOn(engine, quick, messages)));
  return { messages, phases };
}
