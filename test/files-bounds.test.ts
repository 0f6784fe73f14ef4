// Disk bounds for uploads nothing has used yet (review 25, M4), on the real server: unattached bytes per address and in total, the oldest removed early when the total is high, and the free space uploads must leave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type TestServer } from './helpers/server.ts';
import { person, type Person } from './helpers/clients.ts';
import { chunksOf, exchange, onDisk, type BytesResult } from './helpers/bytes.ts';
import { head, raw } from './helpers/raw.ts';
import { sleep } from './helpers/wait.ts';
import { connect } from 'node:net';

const addressText = (left: number, limit: number) =>
  `unattached uploads from your address are at their limit: ${left} of its ${limit} bytes are left (UNATTACHED_BYTES_PER_ADDRESS); attach the files already uploaded to a message, or wait until unattached ones are removed`;
const totalText = 'the server holds as many unattached uploads as it may (UNATTACHED_BYTES_TOTAL): try again later, when older ones have been removed';
const reserveText = (reserve: number) =>
  `not enough disk space: the server keeps ${reserve} bytes free (FREE_SPACE_RESERVE_BYTES) so that its database stays writable, and this upload would use them; try again later`;

/** Uploads `data` as `who` from `address` (the server trusts 127.0.0.1 as a proxy that names it); raw bytes, or chunks without a length. */
function upload(server: TestServer, who: Person, address: string, data: Buffer | AsyncIterable<Buffer>, name = 'notes.txt'): Promise<BytesResult> {
  const body = Buffer.isBuffer(data) ? { body: data } : { chunks: data };
  return exchange(server.http, 'POST', `/files?filename=${name}`, {
    ...body,
    headers: { cookie: `login-token=${who.token}`, 'content-type': 'application/octet-stream', 'x-forwarded-for': address },
  });
}

const answer = (result: BytesResult) => [result.status, result.body.toString()];
/** The body of the one answer in what a raw connection received. */
const bodyOf = (text: string) => text.slice(text.indexOf('\r\n\r\n') + 4);

async function uploaded(server: TestServer, who: Person, address: string, data: Buffer): Promise<string> {
  const result = await upload(server, who, address, data);
  assert.equal(result.status, 201, result.body.toString());
  return (JSON.parse(result.body.toString()) as { id: string }).id;
}

/**
 * Sends `head`, then up to `size` bytes in chunked pieces of 64 KiB, each once the one before is written,
 * and stops as soon as the server answers; answers what came (nothing, when a reset came first).
 */
function sendUntilAnswered(port: number, head: string, size: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let sent = 0;
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', () => {}); // a reset: the close follows
    socket.on('close', () => resolve(answer));
    socket.on('connect', async () => {
      const write = (data: Buffer | string) => new Promise((written) => socket.write(data, written));
      await write(head);
      const piece = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x63), Buffer.from('\r\n')]);
      for (; sent < size && !answer && !socket.destroyed; sent += 0x10000) await write(piece);
      if (!answer && !socket.destroyed) await write('0\r\n\r\n');
    });
  });
}

const download = (server: TestServer, who: Person, id: string) => exchange(server.http, 'GET', `/files/${id}`, { headers: { cookie: `login-token=${who.token}` } });

test('unattached bytes are bounded per address (413) and on the whole server (507); attaching a file frees its room', async (t) => {
  const server = await startServer(t, { TRUST_PROXY: '127.0.0.1', UNATTACHED_BYTES_PER_ADDRESS: '3000', UNATTACHED_BYTES_TOTAL: '5000' });
  const [alice, bob, carol, dave] = [await person(server, 'alice'), await person(server, 'bob'), await person(server, 'carol'), await person(server, 'dave')];
  const home = '198.51.100.7';
  const filesDir = join(server.dir, 'files');

  const first = await uploaded(server, alice, home, Buffer.alloc(2000, 0x61));
  assert.deepEqual(answer(await upload(server, bob, home, Buffer.alloc(1500, 0x62))), [413, addressText(1000, 3000)], 'another account at the same address shares its bound');
  await uploaded(server, bob, home, Buffer.alloc(1000, 0x63));
  assert.deepEqual(answer(await upload(server, alice, home, Buffer.alloc(1, 0x64))), [413, addressText(0, 3000)]);

  const room = await alice.client.request('create_conversation', { name: 'bounds', members: [] });
  await alice.client.request('send_message', { conversation_id: room.id, content: 'sent', attachments: [first] });
  await uploaded(server, bob, home, Buffer.alloc(1500, 0x65));

  // Without a Content-Length the bound is checked when the upload is recorded, with its size.
  const unannounced = await upload(server, bob, home, chunksOf(3, 200, 0x66));
  assert.deepEqual(answer(unannounced), [413, addressText(500, 3000)]);
  assert.deepEqual(onDisk(filesDir).temporary, [], 'the refused upload left nothing');

  // 2500 unattached bytes from home; 2400 more from another address make 4900 of the 5000.
  await uploaded(server, carol, '203.0.113.9', Buffer.alloc(2400, 0x67));
  assert.deepEqual(answer(await upload(server, dave, '192.0.2.1', Buffer.alloc(101, 0x68))), [507, totalText], 'from any address');
  assert.deepEqual(answer(await upload(server, dave, '192.0.2.1', chunksOf(2, 100, 0x69))), [507, totalText], 'also when recorded');
  await uploaded(server, dave, '192.0.2.1', Buffer.alloc(100, 0x6a));
  assert.deepEqual(answer(await upload(server, carol, '203.0.113.9', Buffer.alloc(1, 0x6b))), [507, totalText]);
  assert.deepEqual(onDisk(filesDir).temporary, []);
  assert.equal((await download(server, alice, first)).status, 200, 'the attached file stays');
});

test('a high total removes the oldest unattached uploads past their grace, before UNATTACHED_FILE_HOURS', async (t) => {
  // 36 s to live, a sixth of it (6 s) safe however full; the sweep runs every 1.5 s; above 3000 bytes (3/4 of the total) the oldest go.
  const server = await startServer(t, { TRUST_PROXY: '127.0.0.1', UNATTACHED_FILE_HOURS: '0.01', UNATTACHED_BYTES_TOTAL: '4000' });
  const alice = await person(server, 'alice');
  const oldest = await uploaded(server, alice, '198.51.100.7', Buffer.alloc(1500, 0x61));
  const started = Date.now();
  // created_at counts whole seconds: the next uploads are a second younger, so "oldest" is one file.
  await sleep(1000 - (Date.now() % 1000) + 1000);
  const younger = [await uploaded(server, alice, '198.51.100.7', Buffer.alloc(1500, 0x62)), await uploaded(server, alice, '198.51.100.7', Buffer.alloc(900, 0x63))];

  const removed = await server.waitForLog((line) => line.msg === 'removed unused files' && line.early === 1, 20_000);
  assert.ok(Date.now() - started >= 5000, 'not before its grace');
  assert.equal(removed.files, 0, 'none had reached UNATTACHED_FILE_HOURS');
  assert.deepEqual(await Promise.all([oldest, ...younger].map(async (id) => (await download(server, alice, id)).status)), [404, 200, 200]);
  await uploaded(server, alice, '198.51.100.7', Buffer.alloc(1000, 0x64));
});

test('an upload that would leave less than FREE_SPACE_RESERVE_BYTES free is refused with 507', async (t) => {
  const reserve = 2 ** 50; // more than any disk here has free
  const server = await startServer(t, { FREE_SPACE_RESERVE_BYTES: String(reserve) });
  const alice = await person(server, 'alice');
  assert.deepEqual(answer(await upload(server, alice, '127.0.0.1', Buffer.from('hello\n'))), [507, reserveText(reserve)]);
  assert.deepEqual(onDisk(join(server.dir, 'files')), { stored: [], temporary: [] });
});

test('on a small disk: refused before it starts when its length says so, and as it streams when not', async (t) => {
  const mount = mkdtempSync(join(tmpdir(), 'parley-small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', mount], { stdio: 'ignore' });
  } catch {
    rmSync(mount, { recursive: true, force: true });
    t.skip('mounting a tmpfs needs root');
    return;
  }
  const mib = 1024 * 1024;
  const reserve = 20 * mib;
  const server = await startServer(t, { FILES_DIR: mount, FREE_SPACE_RESERVE_BYTES: String(reserve), MAX_UPLOAD_BYTES: String(64 * mib) });
  t.after(async () => {
    await server.stop('SIGKILL');
    execFileSync('umount', ['-l', mount]);
    rmSync(mount, { recursive: true, force: true });
  });
  const alice = await person(server, 'alice');

  await uploaded(server, alice, '127.0.0.1', Buffer.alloc(8 * mib, 0x61));
  // Without a length (chunked), 40 MiB where 32 are free: stopped as it streams, once about 12 MiB have come
  // (a full disk would answer 500). The 507 goes with a close while the client still sends: it may see a reset.
  const streamed = await sendUntilAnswered(server.port, head('POST /files?filename=big.bin HTTP/1.1', { cookie: `login-token=${alice.token}`, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }), 40 * mib);
  if (streamed !== '') assert.deepEqual([streamed.split('\r\n')[0], bodyOf(streamed)], ['HTTP/1.1 507 ', reserveText(reserve)]);
  const refused = await server.waitForLog((line) => line.msg === 'upload refused: the disk is down to its reserve');
  assert.deepEqual([refused.incoming, refused.reserve, (refused.free as number) < reserve, (refused.free as number) > reserve - 2 * mib], [0, reserve, true, true], 'stopped within a MiB or two of the reserve');
  // 32 MiB free: 16 more would leave 16, under the reserve. Answered at once, before a byte of the body is sent.
  const declared = await raw(server.port, {
    head: head('POST /files?filename=big.bin HTTP/1.1', { cookie: `login-token=${alice.token}`, 'content-type': 'application/octet-stream', 'content-length': 16 * mib }),
  });
  assert.deepEqual([declared.status, bodyOf(declared.text)], [507, reserveText(reserve)]);
  const disk = onDisk(mount);
  assert.deepEqual([disk.stored.length, disk.temporary], [1, []]);
});
