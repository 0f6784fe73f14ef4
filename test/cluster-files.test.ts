// FILES_DIR in a cluster: files and export zips written by one node are read through another, because every
// node has the same FILES_DIR; a node started with a folder of its own is refused, and an export whose zip a
// node cannot see is not spent by asking it there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exchange } from './helpers/bytes.ts';
import { needs } from './helpers/installed.ts';
import { runServerExpectingExit } from './helpers/server.ts';
import { member, startNodes, tapped } from './helpers/cluster.ts';
import { until } from './helpers/wait.ts';

test('two nodes with one FILES_DIR: a file and an export made on one download through the other; a node with a folder of its own is refused', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const [node1, node2] = await startNodes(t, 2);
  const alice = await member(node1!);
  const cookie = { cookie: `login-token=${alice.token}` };

  const uploaded = await exchange(node1!.http, 'POST', '/files?filename=notes.txt', { body: 'written on node1\n', headers: { ...cookie, 'content-type': 'text/plain' } });
  assert.equal(uploaded.status, 201, uploaded.body.toString());
  const file = JSON.parse(uploaded.body.toString()) as { id: string };
  const fetched = await exchange(node2!.http, 'GET', `/files/${file.id}`, { headers: cookie });
  assert.deepEqual([fetched.status, fetched.body.toString()], [200, 'written on node1\n']);

  const socket = await tapped(node1!, alice);
  const { export_id: id } = await socket.client.request('request_export');
  await until('export_ready', () => socket.envelopes.some((envelope) => envelope.type === 'export_ready'), 30_000);
  const ready = (socket.envelopes.find((envelope) => envelope.type === 'export_ready') as { data: { export_id: string; url: string; size: number } }).data;
  assert.equal(ready.export_id, id);
  assert.ok(node1!.logs.some((line) => line.msg === 'export ready' && line.export === id), 'built on node1');

  // A zip the node cannot see is not spent by asking there (as a node with a folder of its own would not see it).
  const zip = join(node1!.env.FILES_DIR!, 'exports', `${id}.zip`);
  renameSync(zip, `${zip}.away`);
  const missing = await exchange(node2!.http, 'GET', ready.url, { headers: cookie });
  assert.deepEqual([missing.status, missing.body.toString()], [503, 'this export cannot be read here now: try again later']);
  await node2!.waitForLog((line) => line.msg === 'export zip missing on this node: every node needs the same FILES_DIR' && line.export === id);
  renameSync(`${zip}.away`, zip);

  const got = await exchange(node2!.http, 'GET', ready.url, { headers: cookie });
  assert.equal(got.status, 200);
  assert.equal(got.headers['content-type'], 'application/zip');
  assert.equal(got.body.length, ready.size);
  assert.ok(got.body.includes(Buffer.from(`files/${file.id}/notes.txt`)), 'the file uploaded on node1 is in it');
  assert.equal((await exchange(node1!.http, 'GET', ready.url, { headers: cookie })).status, 404, 'downloaded once, on whichever node');

  // A third node whose FILES_DIR is a folder of its own does not start.
  const home = mkdtempSync(join(tmpdir(), 'parley-cluster-own-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const own = join(home, 'files');
  const { code, output } = await runServerExpectingExit({ ...node1!.env, NODE_ID: 'node3', DBPATH: join(home, 'parley.db'), FILES_DIR: own });
  assert.equal(code, 1, output);
  assert.match(output, new RegExp(`FILES_DIR=${own} is not the folder the other nodes of this cluster use: it has no \\.parley-cluster file\\. Every node needs the same FILES_DIR`));
});
