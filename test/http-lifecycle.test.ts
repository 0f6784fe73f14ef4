// The life of an HTTP exchange under hostile and careless clients: answers before the body has come, bodies cut off,
// trickled, garbled: none of it may reach a finished or aborted response (uWS would throw, and the process would go down).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type TestServer } from './helpers/server.ts';
import { http } from './helpers/http.ts';
import { login, register, uniqueName } from './helpers/clients.ts';
import { head, multipart, raw, trickle, type RawRequest } from './helpers/raw.ts';

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
      for (const result of answered) assert.ok(result.status === 401 || result.ended === 'reset', `round ${round}: ${result.text}`);
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
    const cases = routes.flatMap(([route, headers]) => Object.entries(behaviours).map(([how, make]) => ({ route, how, request: make(`${route} HTTP/1.1`, headers) })));
    cases.push({ route: 'garbage', how: 'not HTTP', request: { head: 'NOT HTTP AT ALL\r\n\r\n\u0000\u0001' } });
    const results = await Promise.all(cases.map(async (one) => ({ ...one, result: await raw(server.port, one.request) })));
    await alive(server);
    // Every client that stayed got an answer or saw its connection closed (uWS closes one that sends a
    // request while the one before is still being answered: it pipelines only answers given at once).
    const unanswered = results.filter(({ route, request, result }) => route !== 'garbage' && !request.abort && result.status === undefined && result.ended === 'open');
    assert.deepEqual(unanswered.map(({ route, how }) => `${route}: ${how}`), []);
  });
});

