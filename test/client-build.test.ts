// The client as an app gets it: the committed single-file build is current and imports nothing, and
// an SPA importing protocol/connect.ts from this repository typechecks with Vite's settings and no Node types.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const vite = {
  target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [],
  allowImportingTsExtensions: true, verbatimModuleSyntax: true, isolatedModules: true, noEmit: true, strict: true, skipLibCheck: true,
};
const node = { ...vite, module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['node'] };

/** Typechecks one file in a fresh folder of this repository (so `ws` and Node's types resolve as for the tests). */
async function typecheck(t: TestContext, code: string, compilerOptions: object): Promise<{ code: number | null; output: string }> {
  const dir = mkdtempSync(join(root, 'test', 'typecheck-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'main.ts'), code);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['main.ts'] }));
  return new Promise((resolve) => {
    execFile(join(root, 'node_modules/.bin/tsc'), ['-p', dir], { cwd: dir }, (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, output: stdout + stderr }));
  });
}

/** The TypeScript example of docs/client.md that contains `marker`, importing from this repository. */
function guideExample(marker: string, from: string): string {
  const guide = readFileSync(join(root, 'docs/client.md'), 'utf8');
  const example = guide.split('```ts\n').map((block) => block.split('```')[0]!).find((block) => block.includes(marker));
  assert.ok(example, `no TypeScript example with ${marker} in docs/client.md`);
  return example.replaceAll(from, `${join(root, 'protocol')}/`);
}

test('an SPA importing protocol/connect.ts typechecks with Vite\'s settings, without Node\'s types', async (t) => {
  assert.deepEqual(await typecheck(t, spa(join(root, 'protocol/connect.ts')), vite), { code: 0, output: '' });
});

test('the SPA and Node examples of docs/client.md typecheck', async (t) => {
  assert.deepEqual(await typecheck(t, guideExample('// src/chat.ts', '../../parley/protocol/'), vite), { code: 0, output: '' });
  assert.deepEqual(await typecheck(t, guideExample("from 'ws'", './protocol/'), node), { code: 0, output: '' });
});
