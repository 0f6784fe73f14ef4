// A seeded generator throws 20,000+ hostile frames at the server while a well-behaved pair chats:
// every frame gets an answer or a close, the server never dies, the pair sees no error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer } from './helpers/server.ts';
import { person, settle } from './helpers/clients.ts';
import { events } from '../protocol/index.ts';
import { sleep } from './helpers/wait.ts';

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const hostileValues: unknown[] = [
  null, true, false, 0, -1, 1.5, -0, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, '', ' ', 'x', '\u0000', '💥'.repeat(50),
  'a'.repeat(5000), [], [1, 'two', null], {}, { __proto__: { polluted: true } }, { constructor: { prototype: {} } }, ['__proto__'],
];

type Frame = { data: string | Buffer; binary: boolean };

function hostileFrame(next: () => number): Frame {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  // logout_all has no fields to spoil: it would end the fuzzer's own session (sessions.test.ts covers it).
  const types = Object.keys(events).filter((type) => type !== 'logout_all');
  switch (Math.floor(next() * 9)) {
    case 0: // not JSON at all
      return { data: pick(['{', '}', 'null', '[]', '"type"', 'ping', '{"type":}', '\u0000\u0001', 'NaN', '{"type":"ping",}']), binary: false };
    case 1: // binary frames, some of them random bytes
      return { data: Buffer.from(Array.from({ length: 1 + Math.floor(next() * 64) }, () => Math.floor(next() * 256))), binary: true };
    case 2: // deep nesting, inside and outside fields
      return { data: next() < 0.5 ? nested(500 + Math.floor(next() * 3000)) : `{"type":"send_message","conversation_id":${nested(2000)},"content":"x"}`, binary: false };
    case 3: // prototype keys
      return { data: pick(['{"__proto__":{"type":"ping"}}', '{"type":"__proto__"}', '{"type":"constructor"}', '{"type":"hasOwnProperty"}', '{"type":"send_message","__proto__":{"conversation_id":1},"content":"x"}', '{"constructor":{"prototype":{"type":"ping"}},"type":"self"}']), binary: false };
    case 4: // unknown or wrong-typed `type` and `ref`
      return { data: JSON.stringify({ type: pick([...hostileValues, 'PING', 'root', 'sync', 'send_messages']), ref: pick(hostileValues) }), binary: false };
    default: {
      // a known event with every field replaced by something hostile, or missing
      const type = pick(types);
      const fields = Object.keys((events[type as keyof typeof events].request as unknown as { entries: object }).entries);
      const frame: Record<string, unknown> = { type };
      for (const field of [...fields, 'extra', 'id']) if (next() < 0.8) frame[field] = pick(hostileValues);
      if (next() < 0.3) frame.ref = pick(hostileValues);
      return { data: JSON.stringify(frame), binary: false };
    }
  }
}

test('20,000 hostile frames: every one answered or closed, nobody else disturbed', async (t) => {
  const server = await startServer(t);
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const mallory = await person(server, 'mallory');
  const room = await alice.client.request('create_conversation', { name: 'calm', members: [bob.username] });

  // The well-behaved pair chats the whole time.
  let chatting = true;
  const sent: number[] = [];
  const chat = (async () => {
    while (chatting) {
      sent.push((await alice.client.request('send_message', { conversation_id: room.id, content: `calm ${sent.length}` })).id);
      await sleep(5);
    }
  })();

  const next = random(20261121);
  let frames = 0;
  let answered = 0;
  const closes: string[] = [];
  let closingFrames = 0;
  while (frames < 20_000) {
    // A fresh socket per round: some frames (invalid UTF-8, oversize) rightly close it.
    const socket = new WebSocket(server.ws, { headers: { cookie: `login-token=${mallory.token}` } });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    // A valid request_export among the frames is answered, and its zip announced later (export_ready), to every
    // socket of mallory's, this round's or the next's: not a reply.
    const later = (data: unknown) => /^{"type":"export_(ready|failed)"/.test(String(data));
    // Authenticated first (its ping answered), so that every hostile frame reaches dispatch.
    await new Promise<void>((resolve) => {
      const heard = (data: unknown) => {
        if (later(data)) return;
        socket.off('message', heard);
        resolve();
      };
      socket.on('message', heard);
      socket.send('{"type":"ping"}');
    });
    const batch = Array.from({ length: 500 }, () => hostileFrame(next));
    let replies = 0;
    const done = new Promise<void>((resolve) => {
      socket.on('message', (data) => {
        if (later(data)) return;
        if (++replies === batch.length) resolve();
      });
      socket.once('close', (code, reason) => {
        if (replies < batch.length) closes.push(`${code} ${String(reason)} after ${replies} of ${batch.length}`);
        resolve();
      });
    });
    for (const frame of batch) socket.send(frame.data, { binary: frame.binary });
    const timer = setTimeout(() => assert.fail(`no answer or close for ${batch.length - replies} frames of round ${frames / 500}`), 15_000);
    await done;
    clearTimeout(timer);
    answered += replies;
    if (socket.readyState === WebSocket.OPEN) {
      // The next frame must answer this ping: no hostile frame was answered twice.
      const after = await new Promise<string>((resolve) => {
        const heard = (data: unknown) => {
          if (later(data)) return;
          socket.off('message', heard);
          resolve(String(data));
        };
        socket.on('message', heard);
        socket.send('{"type":"ping","ref":"end of round"}');
      });
      assert.deepEqual(JSON.parse(after), { type: 'ping', success: true, data: 'pong', ref: 'end of round' });
    }
    frames += batch.length;
    socket.terminate();
  }

  // Frames that must end the socket rather than be answered: invalid UTF-8 in a text frame, oversize.
  for (const [data, expected] of [
    [Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0xff, 0xfe, 0x22, 0x7d]), [1006, 1007]], // uWS checks UTF-8 before Parley sees the frame
    [Buffer.from('{"type":"ping","x":"' + 'y'.repeat(70 * 1024) + '"}'), [1009]],
    [Buffer.alloc(300 * 1024, 0x20), [1006, 1009]], // past uWS's own cut-off: no close frame
  ] as const) {
    for (let i = 0; i < 5; i++) {
      const socket = new WebSocket(server.ws, { headers: { cookie: `login-token=${mallory.token}` } });
      await new Promise((resolve) => socket.once('open', resolve));
      await new Promise((resolve) => {
        socket.once('message', resolve);
        socket.send('{"type":"ping"}');
      });
      const code = await new Promise<number>((resolve) => {
        socket.once('close', (closeCode) => resolve(closeCode));
        socket.send(data, { binary: false });
      });
      assert.ok((expected as readonly number[]).includes(code), `closed with ${code}, expected one of ${expected.join(', ')}`);
      closingFrames++;
    }
  }
  chatting = false;
  await chat;

  assert.ok(frames + closingFrames >= 20_000);
  assert.deepEqual(closes, [], 'no socket was closed: none of these frames is oversize or invalid UTF-8');
  assert.equal(answered, frames, 'every frame got exactly one answer');
  assert.equal(await mallory.client.request('ping'), 'pong', 'the server is alive');
  await settle(bob.client);
  const pushed = bob.pushes.filter((push) => push.type === 'send_message').map((push) => (push.data as { id: number }).id);
  assert.deepEqual(pushed, sent, 'the calm member got every message, in order');
  assert.ok(sent.length > 10, `the pair chatted through it (${sent.length} messages)`);
  const failures = server.logs.filter((line) => line.level === 'error');
  assert.deepEqual(failures, [], 'no handler failed on any frame');
});
