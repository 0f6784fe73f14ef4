// The life of an HTTP exchange under hostile and careless clients: answers before the body has come, bodies cut off,
// trickled, garbled; none of it may reach a finished response (that would crash the process), and an early answer reaches the client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startServer, type TestServer } from './helpers/server.ts';
import { http } from './helpers/http.ts';
import { login, register, uniqueName } from './helpers/clients.ts';
import { installed } from './helpers/installed.ts';
import { head, multipart, raw, trickle, type RawRequest } from './helpers/raw.ts';
import { sleep } from './helpers/wait.ts';
import { createSkipper, skipping } from '../src/transport/body.ts';
import type { Exchange } from '../src/transport/exchange.ts';

const maxUpload = 256 * 1024;
const kib = (count: number) => Buffer.alloc(count * 1024, 0x61);

async function alive(server: TestServer): Promise<void> {
  assert.equal(server.child.exitCode, null, `the server exited:\n${server.output().slice(-3000)}`);
  assert.equal(server.child.signalCode, null);
  assert.deepEqual(await http(server.http, 'GET', '/misc/ping').then(({ status, body }) => [status, body]), [200, 'pong']);
  assert.deepEqual(server.logs.filter((line) => line.msg === 'response failed'), []);
}

/** How a client sends a request's body: each way, for each route. */
const behaviours: Record<string, (start: string, headers: Record<string, string>) => RawRequest> = {
  whole: (start, headers) => ({ head: head(start, { ...headers, 'Content-Length': 64 * 1024 }), body: [kib(64)] }),
  'huge Content-Length': (start, headers) => ({ head: head(start, { ...headers, 'Content-Length': 10 * 1024 ** 3 }), body: [kib(256)] }),
  'past the limit': (start, headers) => ({ head: head(start, { ...headers, 'Content-Length': 2 * 1024 ** 2 }), body: [kib(2048)] }),
  trickled: (start, headers) => ({ head: head(start, { ...headers, 'Content-Length': 2000 }), body: trickle(20, 100, 50) }),
  'aborted mid-body': (start, headers) => ({ head: head(start, { ...headers, 'Content-Length': 1024 ** 2 }), body: [kib(128)], abort: true }),
  'aborted after the head': (start, headers) => ({ head: head(start, { ...headers, 'Content-Length': 100 }), abort: true }),
  chunked: (start, headers) => ({
    head: head(start, { ...headers, 'Transfer-Encoding': 'chunked' }),
    body: [...Array.from({ length: 8 }, () => Buffer.concat([Buffer.from('4000\r\n'), kib(16), Buffer.from('\r\n')])), '0\r\n\r\n'],
  }),
  'garbled chunks': (start, headers) => ({ head: head(start, { ...headers, 'Transfer-Encoding': 'chunked' }), body: ['10\r\n0123456789abcdef\r\nzz\r\n', kib(8)] }),
  'pipelined with a ping': (start, headers) => ({ head: head(start, { ...headers, 'Content-Length': 5 }) + 'hello' + head('GET /misc/ping HTTP/1.1', {}) }),
};

test('HTTP exchanges under hostile clients', async (t) => {
  const server = await startServer(t, { METRICS_TOKEN: 'a metrics token of some length', MAX_UPLOAD_BYTES: String(maxUpload) });
  const username = uniqueName('sender');
  await register(server, username);
  const cookie = `login-token=${await login(server, username)}`;
  const form = multipart(64 * 1024);

  await t.test('rounds of 40 anonymous 64 KiB uploads at once, with larger ones among them, leave the server up', async () => {
    const upload = (body: Buffer) => raw(server.port, { head: head('POST /files HTTP/1.1', { 'Content-Type': form.contentType, 'Content-Length': body.length }), body: [body] });
    const skipped = multipart(900 * 1024).body;
    const tooLarge = multipart(3 * 1024 * 1024).body;
    for (let round = 0; round < 3; round++) {
      const small = Array.from({ length: 40 }, () => upload(form.body));
      const larger = Array.from({ length: 8 }, () => upload(skipped));
      // Past what is skipped: the 413 goes with a close, which the client may see as a reset while it sends.
      const largest = Array.from({ length: 4 }, () => upload(tooLarge));
      const [answered, cut] = await Promise.all([Promise.all([...small, ...larger]), Promise.all(largest)]);
      await alive(server);
      assert.deepEqual(new Set(answered.map((result) => result.status)), new Set([401]), `round ${round}`);
      for (const result of cut) assert.ok(result.status === 413 || result.ended === 'reset', `round ${round}: ${result.text}`);
    }
  });

  await t.test('every route, refused early or not, with bodies whole, huge, trickled, cut off, chunked, garbled or pipelined', async () => {
    const id = '0'.repeat(32);
    const routes: [string, Record<string, string>][] = [
      ['POST /files', { 'Content-Type': form.contentType }],
      ['POST /files?filename=a.bin', {}],
      ['POST /files', { 'Content-Type': form.contentType, Origin: 'https://elsewhere.example' }],
      ['POST /files', { 'Content-Type': form.contentType, Cookie: cookie }],
      ['POST /files?filename=a.bin', { Cookie: cookie }],
      ['POST /auth/login', {}], ['POST /register', {}], ['POST /auth/refresh', { Cookie: 'refresh-token=nonsense' }], ['POST /auth/forgot-password', {}],
      ['GET /files/' + id, {}], ['GET /files/' + id + '/thumbnail', { Cookie: cookie }], ['GET /push/key', {}],
      ['GET /healthz', {}], ['GET /readyz', {}], ['GET /metrics', {}], ['GET /misc/ping', {}], ['GET /nowhere', {}], ['PUT /files', {}],
    ];
    // A loaded machine may take seconds to answer all of them at once: each waits up to 15 s, and no longer than its answers.
    const patient = (request: RawRequest, answers: number): RawRequest => ({ ...request, waitMs: 15_000, answers });
    const cases = routes.flatMap(([route, headers]) => Object.entries(behaviours).map(([how, make]) => ({ route, how, request: patient(make(`${route} HTTP/1.1`, headers), how === 'pipelined with a ping' ? 2 : 1) })));
    cases.push({ route: 'garbage', how: 'not HTTP', request: { head: 'NOT HTTP AT ALL\r\n\r\n\u0000\u0001' } });
    const results = await Promise.all(cases.map(async (one) => ({ ...one, result: await raw(server.port, one.request) })));
    await alive(server);
    // Every client that stayed got an answer or saw its connection closed (uWS closes one that sends a
    // request while the one before is still being answered: it pipelines only answers given at once).
    const unanswered = results.filter(({ route, request, result }) => route !== 'garbage' && !request.abort && result.status === undefined && result.ended === 'open');
    assert.deepEqual(unanswered.map(({ route, how }) => `${route}: ${how}`), []);
  });

  await t.test('40 small anonymous multipart uploads from fetch all see 401, none a broken connection', async () => {
    const uploads = Array.from({ length: 40 }, async () => {
      const body = new FormData();
      body.append('file', new Blob([kib(64)]), 'a.bin');
      const response = await fetch(`${server.http}/files`, { method: 'POST', body }).catch((error: Error) => error);
      return response instanceof Error ? `${response.message}: ${String((response.cause as Error | undefined)?.message)}` : `${response.status} ${await response.text()}`;
    });
    const answers = await Promise.all(uploads);
    assert.deepEqual(new Set(answers), new Set(['401 login-token required']));
    await alive(server);
  });

  await t.test('curl sees the 413 of a body over the limit, not a broken pipe', async (t) => {
    if (!installed(t, '/usr/bin/curl', 'curl')) return;
    const curl = async (...args: string[]) => (await promisify(execFile)('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...args])).stdout;
    const json = join(server.dir, 'big.json');
    writeFileSync(json, JSON.stringify({ username: 'x', password: 'y', fullname: 'z'.repeat(200 * 1024) }));
    assert.equal(await curl('--data-binary', `@${json}`, `${server.http}/register`), '413', 'announced by Content-Length');
    assert.equal(await curl('-H', 'Transfer-Encoding: chunked', '--data-binary', `@${json}`, `${server.http}/register`), '413', 'found while reading');
    const file = join(server.dir, 'big.bin');
    writeFileSync(file, Buffer.alloc(maxUpload + 300 * 1024, 0x61));
    assert.equal(await curl('-b', cookie, '--data-binary', `@${file}`, `${server.http}/files?filename=big.bin`), '413', 'a raw upload');
    assert.equal(await curl('-b', cookie, '-F', `file=@${file}`, `${server.http}/files`), '413', 'a form cut off as the file passes the limit');
    await alive(server);
  });

  await t.test('an early answer waits for a small body to end, then the connection carries the next request', async () => {
    const form = multipart(512 * 1024);
    const refusals: [string, Record<string, string>, Buffer][] = [
      ['POST /files HTTP/1.1', { 'Content-Type': form.contentType }, form.body], // 401, found once the cookie is looked at
      ['POST /register HTTP/1.1', {}, kib(512)], // 413, by Content-Length before a byte is read
    ];
    for (const [start, headers, body] of refusals) {
      const result = await raw(server.port, {
        head: head(start, { ...headers, 'Content-Length': body.length }),
        body: (async function* () {
          for (let at = 0; at < body.length; at += 64 * 1024) yield body.subarray(at, at + 64 * 1024);
          await sleep(300);
          yield head('GET /misc/ping HTTP/1.1', {});
        })(),
      });
      assert.deepEqual([result.status, result.answers, result.ended], [start.includes('files') ? 401 : 413, 2, 'open'], start);
      assert.match(result.text, /pong$/);
    }
  });

  await t.test('what is skipped is bounded: a body declared larger is answered at once, a longer one and a trickle are cut off', async () => {
    const declared = await raw(server.port, { head: head('POST /files HTTP/1.1', { 'Content-Type': form.contentType, 'Content-Length': skipping.bytes + 100 * 1024 }), waitMs: 3000 });
    assert.deepEqual([declared.status, declared.ended], [401, 'closed'], 'nothing of the body sent, and none awaited');
    const endless = await raw(server.port, {
      head: head('POST /auth/login HTTP/1.1', { 'Transfer-Encoding': 'chunked' }),
      body: (async function* () {
        for (let sent = 0; sent < 20 * skipping.bytes; sent += 64 * 1024) yield Buffer.concat([Buffer.from('10000\r\n'), kib(64), Buffer.from('\r\n')]);
      })(),
    });
    // Past what is skipped, the 413 goes with a close, which the client may see as a reset while it sends.
    assert.ok(endless.status === 413 || endless.ended === 'reset', `a chunked body past the limit, and past what is skipped: ${endless.text}`);
    assert.notEqual(endless.ended, 'open');
    const started = Date.now();
    const slow = await raw(server.port, { head: head('POST /files HTTP/1.1', { 'Content-Type': form.contentType, 'Content-Length': 1000 }), body: trickle(1000, 1, 100) });
    assert.deepEqual([slow.status, slow.ended === 'open'], [401, false], 'a trickle gets its answer and a close');
    assert.ok(slow.answeredAfter >= skipping.ms - 100 && Date.now() - started < skipping.ms + 3000, `answered after ${slow.answeredAfter} ms`);
    await alive(server);
  });
});

/** An exchange whose body the test delivers: what the skipper sees of uWS. */
function fakeExchange(bodyLength: number | undefined) {
  let take: (chunk: ArrayBuffer, isLast: boolean) => void = () => {};
  const stops: (() => void)[] = [];
  const state = { aborted: false, bodyEnded: bodyLength === 0, received: 0, resumed: false };
  const exchange = {
    get aborted() {
      return state.aborted;
    },
    get bodyEnded() {
      return state.bodyEnded;
    },
    get received() {
      return state.received;
    },
    bodyLength,
    onBody: (next: typeof take) => void (take = next),
    onAbort: (stop: () => void) => void stops.push(stop),
    resume: () => void (state.resumed = true),
  } as unknown as Exchange;
  return {
    exchange,
    state,
    deliver(bytes: number, isLast = false) {
      state.received += bytes;
      state.bodyEnded ||= isLast;
      take(new ArrayBuffer(bytes), isLast);
    },
    abort() {
      state.aborted = true;
      for (const stop of stops) stop();
    },
  };
}

test('skipping the rest of a body before an early answer: bounded in bytes, time and number', async (t) => {
  await t.test('a body that has ended, or is declared longer than what is skipped, is not waited for', async () => {
    const skip = createSkipper();
    assert.equal(await skip(fakeExchange(0).exchange), true);
    const long = fakeExchange(skipping.bytes + 10);
    assert.equal(await skip(long.exchange), false);
    assert.equal(long.state.resumed, false);
  });

  await t.test('the rest is read and dropped until it ends: the connection can stay', async () => {
    const skip = createSkipper();
    const body = fakeExchange(300_000);
    body.deliver(100_000);
    const skipped = skip(body.exchange);
    assert.equal(body.state.resumed, true, 'a body paused by its reader flows again');
    body.deliver(100_000);
    body.deliver(100_000, true);
    assert.equal(await skipped, true);
  });

  await t.test('a chunked rest past the bound, a client that goes away, and a trickle past the time are given up', async (t) => {
    const skip = createSkipper();
    const endless = fakeExchange(undefined);
    const cut = skip(endless.exchange);
    for (let sent = 0; sent <= skipping.bytes; sent += 64 * 1024) endless.deliver(64 * 1024);
    assert.equal(await cut, false);
    const gone = fakeExchange(1000);
    const abort = skip(gone.exchange);
    gone.abort();
    assert.equal(await abort, false);
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const slow = fakeExchange(1000);
    const trickled = skip(slow.exchange);
    slow.deliver(1);
    t.mock.timers.tick(skipping.ms);
    assert.equal(await trickled, false);
  });

  await t.test(`at most ${skipping.atOnce} bodies are skipped at once; past that the answer goes with a close`, async () => {
    const skip = createSkipper();
    const bodies = Array.from({ length: skipping.atOnce }, () => fakeExchange(10));
    const skipped = bodies.map((body) => skip(body.exchange));
    assert.equal(await skip(fakeExchange(10).exchange), false);
    for (const body of bodies) body.deliver(10, true);
    assert.deepEqual(new Set(await Promise.all(skipped)), new Set([true]));
    const after = fakeExchange(10);
    const again = skip(after.exchange);
    after.deliver(10, true);
    assert.equal(await again, true, 'each ended skip gave its place back');
  });
});
