// The native uWebSockets.js binary, not the package's slow JavaScript fallback, is what runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uwsBinary } from '../src/transport/uws.ts';
import { startServer } from './helpers/server.ts';

test('the native uWebSockets.js binary is loaded', () => {
  assert.equal(uwsBinary, 'native', `uWebSockets.js fell back to its JavaScript shim on Node ${process.version}; see docs/getting-started.md (Node versions)`);
});

test('the server logs which uWebSockets.js binary is active', async (t) => {
  const server = await startServer(t);
  const line = await server.waitForLog((entry) => entry.msg === 'listening');
  assert.equal(line.uws, 'native');
});

test('the check notices the fallback when it is forced', async (t) => {
  const server = await startServer(t, { UWS_USE_FALLBACK: '1' });
  assert.equal((await server.waitForLog((entry) => entry.msg === 'listening')).uws, 'fallback');
  await server.waitForLog((entry) => entry.level === 'warn' && /fallback/.test(entry.msg));
});
