// The client as an app gets it: the committed single-file build is current and imports nothing, and
// an SPA importing protocol/connect.ts from this repository typechecks with Vite's settings and no Node types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleClient, bundlePath } from '../protocol/build.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

test('protocol/dist/parley-client.js is what `npm run client:build` makes', async () => {
  assert.equal(readFileSync(bundlePath, 'utf8'), await bundleClient(), 'protocol/dist/parley-client.js is stale: run `npm run client:build`');
});

test('the single-file build imports nothing and exports the client', async () => {
  const text = readFileSync(bundlePath, 'utf8');
  assert.doesNotMatch(text, /^\s*import\b|\bimport\(|\brequire\(/m);
  const module = (await import(bundlePath)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(module).sort(), ['AuthError', 'Disconnected', 'RequestError', 'afterClose', 'closeCodes', 'connect', 'createCookieJar', 'login', 'memoryStorage', 'refreshLogin']);
});

// What a Vite SPA's main.ts does; each @ts-expect-error fails the check if the types let the mistake through.
const spa = (from: string) => `
import { connect, Disconnected, RequestError, type ConnectionState } from '${from}';

const parley = connect({ url: 'http://localhost:8000' });
parley.onState((state: ConnectionState) => {
  if (state.status === 'reconnecting') console.log(state.attempt, state.in_ms);
});
parley.on('send_message', (message, { seq }) => console.log(message.sender_username, message.content, seq));
parley.on('reset', ({ next }) => console.log(next));
const room = await parley.request('create_conversation', { members: ['bob'] });
const sent = await parley.request('send_message', { conversation_id: room.id, content: 'hi' });
const id: number = sent.id;
try {
  await parley.request('get_contacts');
} catch (error) {
  if (error instanceof Disconnected) console.log(error.sent);
  if (error instanceof RequestError) console.log(error.code);
}
// @ts-expect-error content is required
await parley.request('send_message', { conversation_id: room.id });
// @ts-expect-error no such event
await parley.request('send_mesage', {});
// @ts-expect-error no such push
parley.on('message', () => {});
// @ts-expect-error a message's id is a number
const wrong: string = sent.id;
export { id, wrong };
`;

test('an SPA importing protocol/connect.ts typechecks with Vite\'s settings, without Node\'s types', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-spa-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'main.ts'), spa(join(root, 'protocol/connect.ts')));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [],
      allowImportingTsExtensions: true, verbatimModuleSyntax: true, isolatedModules: true, noEmit: true, strict: true, skipLibCheck: true,
    },
    files: ['main.ts'],
  }));
  const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
    execFile(join(root, 'node_modules/.bin/tsc'), ['-p', dir], { cwd: dir }, (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, output: stdout + stderr }));
  });
  assert.deepEqual(result, { code: 0, output: '' });
});
