// Expensive reads: a bystander's ping while another user hammers get_conversations and search_messages
// in a channel of 200,000 messages, with the default (cost-aware) rate limit and with it lifted.
import WebSocket from 'ws';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type TestServer } from '../helpers/server.ts';
import { benchSecret, seed, sqliteAt } from './seed.ts';

export type HammerPhase = { name: string; pings: number; p50: number; p99: number; max: number; answered: number; refused: number };
export type HammerResult = { messages: number; single: { get_conversations: number; search_messages: number }; phases: HammerPhase[] };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN);

async function open(server: TestServer, token: string): Promise<WebSocket> {
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { headers: { cookie: `login-token=${token}` } });
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

/**
 * The bystander pings every 5 ms for `seconds` while the hammer (if any) sends 100 expensive reads at
 * once, as the attack run did, and again as soon as all 100 are answered — after a second when some
 * were refused, as an attacker who does not want to be closed for flooding would.
 */
async function phase(name: string, bystander: WebSocket, hammer: WebSocket | undefined, seconds: number): Promise<HammerPhase> {
  let answered = 0;
  let refused = 0;
  let inCycle = 0;
  let cycleDone: () => void = () => {};
  const onReply = (data: WebSocket.RawData) => {
    if (String(data).includes('"success":false')) refused++;
    else answered++;
    if (--inCycle === 0) cycleDone();
  };
  hammer?.on('message', onReply);
  const frames = ['{"type":"get_conversations"}', '{"type":"search_messages","query":"common"}'];
  let stop = false;
  const flood = (async () => {
    while (hammer && !stop) {
      const done = new Promise<void>((resolve) => (cycleDone = resolve));
      const refusedBefore = refused;
      inCycle = 100;
      for (let j = 0; j < 100; j++) hammer.send(frames[j % 2]!);
      await done;
      if (refused > refusedBefore) await sleep(1000);
    }
  })();
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    latencies.push(await roundTrip(bystander, '{"type":"ping"}'));
    await sleep(5);
  }
  stop = true;
  await flood;
  hammer?.off('message', onReply);
  latencies.sort((a, b) => a - b);
  const result = { name, pings: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN, answered, refused };
  console.log(`  ${name}: bystander ping p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, max ${result.max.toFixed(1)} ms (${result.pings} pings); hammer answered ${answered}, refused ${refused}`);
  return result;
}

export async function hammer(quick: boolean): Promise<HammerResult> {
  const messages = 200_000;
  const seconds = quick ? 3 : 6;
  console.log(`expensive reads: a bystander's ping while another user hammers get_conversations and search_messages over ${messages.toLocaleString('en')} messages`);
  const dir = mkdtempSync(join(tmpdir(), 'parley-hammer-'));
  try {
    const seeded = await seed(sqliteAt(join(dir, 'parley.db')), { users: 3, channel: messages });
    const run = async <T>(env: Record<string, string>, work: (server: TestServer) => Promise<T>): Promise<T> => {
      const server = await startServer(undefined, { JWTSECRET: benchSecret, LOG_LEVEL: 'warn', ...env }, dir);
      try {
        return await work(server);
      } finally {
        await server.stop('SIGKILL');
      }
    };
    // The default limits: RATE_LIMIT_EVENTS=50, RATE_LIMIT_BURST=200, expensive events weighing more.
    const limited = await run({ RATE_LIMIT_EVENTS: '50', RATE_LIMIT_BURST: '200' }, async (server) => {
      const [hammerer, bystander] = [await open(server, seeded.tokens[0]!), await open(server, seeded.tokens[1]!)];
      // One of each, alone, timed from the client: what a single expensive read costs now.
      await roundTrip(hammerer, '{"type":"search_messages","query":"common"}');
      const single = {
        get_conversations: await roundTrip(hammerer, '{"type":"get_conversations"}'),
        search_messages: await roundTrip(hammerer, '{"type":"search_messages","query":"common"}'),
      };
      console.log(`  one get_conversations ${single.get_conversations.toFixed(2)} ms, one search_messages ${single.search_messages.toFixed(2)} ms (round trips, alone)`);
      await sleep(5000); // the bucket refills
      const idle = await phase('no hammer', bystander, undefined, seconds);
      const hammered = await phase('hammer, default rate limit', bystander, hammerer, seconds);
      return { single, phases: [idle, hammered] };
    });
    const lifted = await run({ RATE_LIMIT_EVENTS: '1000000', RATE_LIMIT_BURST: '1000000' }, async (server) => {
      const [hammerer, bystander] = [await open(server, seeded.tokens[0]!), await open(server, seeded.tokens[1]!)];
      return phase('hammer, rate limit lifted (the cost bounds alone)', bystander, hammerer, seconds);
    });
    return { messages, single: limited.single, phases: [...limited.phases, lifted] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
