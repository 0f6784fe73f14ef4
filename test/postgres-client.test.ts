// The one exception of the PostgreSQL client that the server survives (src/main.ts): a write it put off
// running after its connection closed. Made here as V8 makes it, in a function of that name in a file at
// the package's path; anything else still ends the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Script } from 'node:vm';
import { isLateWriteOnClosedConnection } from '../src/storage/engine/postgres.ts';

/** What `fn` throws when run as code of `filename`. */
function thrownIn(filename: string, body: string): unknown {
  try {
    new Script(`(function nextWrite() { ${body} })()`, { filename }).runInThisContext();
  } catch (error) {
    return error;
  }
  assert.fail('nothing thrown');
}

test('a write on the closed connection\'s nulled socket, in the postgres package, is recognised; in the ESM and CommonJS builds', () => {
  for (const path of ['/srv/parley/node_modules/postgres/src/connection.js', '/srv/parley/node_modules/postgres/cjs/src/connection.js']) {
    const error = thrownIn(path, 'const socket = null; socket.write(Buffer.alloc(1));');
    assert.ok(isLateWriteOnClosedConnection(error), String((error as Error).stack));
  }
});

test('the same error anywhere else, another error there, or something not an error, is not', () => {
  assert.equal(isLateWriteOnClosedConnection(thrownIn('/srv/parley/dist/src/main.js', 'const socket = null; socket.write(Buffer.alloc(1));')), false);
  assert.equal(isLateWriteOnClosedConnection(thrownIn('/srv/parley/node_modules/postgres/src/connection.js', 'const socket = null; socket.end();')), false);
  assert.equal(isLateWriteOnClosedConnection(thrownIn('/srv/parley/node_modules/postgres/src/connection.js', 'throw new Error("boom");')), false);
  assert.equal(isLateWriteOnClosedConnection('Cannot read properties of null (reading \'write\')'), false);
});
