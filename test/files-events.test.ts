// Files through the real server: uploads with the login cookie, attachments on messages, who may download them, pictures, get_files, deletion, quota and the sweep.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import sharp from 'sharp';
import { startServer, type TestServer } from './helpers/server.ts';
import { connect, expectError, login, person, waitFor, type Person } from './helpers/clients.ts';
import { runAdmin } from './helpers/admin.ts';
import { needs } from './helpers/installed.ts';
import { exchange, heldUpload, onDisk, underWay, type BytesResult } from './helpers/bytes.ts';
import { gpsJpeg } from './helpers/images.ts';
import { testDatabase, testEngine } from './helpers/postgres.ts';
import { sleep } from './helpers/wait.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const json = (result: BytesResult) => JSON.parse(result.body.toString());
const cookie = (who: Person) => ({ cookie: `login-token=${who.token}` });
const absent = '0123456789abcdef0123456789abcdef';

/** This pass's engine: on PostgreSQL, a fresh database (dropped after the test, the server stopped or not). */
async function engine(t: TestContext): Promise<Record<string, string>> {
  return testEngine() === 'postgres' ? { DATABASE_URL: await testDatabase(t) } : {};
}

/** Uploads raw bytes as `who`; answers the exchange. */
function upload(server: TestServer, who: Person, data: Buffer | string, name: string, headers: Record<string, string> = {}): Promise<BytesResult> {
  return exchange(server.http, 'POST', `/files?filename=${encodeURIComponent(name)}`, { body: data, headers: { ...cookie(who), 'content-type': 'application/octet-stream', ...headers } });
}

/** Uploads and answers the 201 reply. */
async function uploaded(server: TestServer, who: Person, data: Buffer | string, name: string) {
  const result = await upload(server, who, data, name);
  assert.equal(result.status, 201, result.body.toString());
  return json(result) as { id: string; name: string; size: number; type: string; sha256: string; width?: number; height?: number };
}

const download = (server: TestServer, who: Person | undefined, path: string, headers: Record<string, string> = {}) =>
  exchange(server.http, 'GET', path, { headers: { ...(who ? cookie(who) : {}), ...headers } });

/** The status each person gets for a path, in order. */
async function statuses(server: TestServer, people: Person[], path: string | string[]): Promise<number[]> {
  return Promise.all(people.map(async (who, i) => (await download(server, who, typeof path === 'string' ? path : path[i]!)).status));
}

test('files in conversations', async (t) => {
  const server = await startServer(t, await engine(t));
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');
  const carol = await person(server, 'carol');
  const room = await alice.client.request('create_conversation', { name: 'photos', members: [bob.username, carol.username] });
  const photo = await gpsJpeg(600, 400);
  const text = Buffer.from('plain notes\n');

  await t.test('POST /files: FormData with the cookie answers 201 and the file as stored; without it, 401; from a foreign origin, 403', async () => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(photo)], { type: 'image/png' }), 'beach.jpg');
    const response = await fetch(`${server.http}/files`, { method: 'POST', body: form, headers: cookie(alice) });
    const reply = await response.json();
    const served = await download(server, alice, `/files/${reply.id}`);
    assert.equal(response.status, 201);
    assert.match(reply.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(reply, { id: reply.id, name: 'beach.jpg', size: served.body.length, type: 'image/jpeg', sha256: sha256(served.body), width: 400, height: 600, received: { size: photo.length, sha256: sha256(photo) } });
    assert.equal((await sharp(served.body).metadata()).exif, undefined, 'no EXIF (and no GPS position) served');
    const anonymous = await exchange(server.http, 'POST', '/files?filename=a.txt', { body: text });
    assert.deepEqual([anonymous.status, anonymous.body.toString()], [401, 'login-token required']);
    const forged = await exchange(server.http, 'POST', '/files?filename=a.txt', { body: text, headers: { cookie: 'login-token=forged' } });
    assert.deepEqual([forged.status, forged.body.toString()], [401, 'invalid login-token']);
    const foreign = await upload(server, alice, text, 'a.txt', { origin: 'https://evil.example' });
    assert.deepEqual([foreign.status, foreign.body.toString()], [403, 'origin not allowed']);
    const allowed = await upload(server, alice, text, 'a.txt', { origin: 'http://localhost:5173' });
    assert.deepEqual([allowed.status, allowed.headers['access-control-allow-origin'], allowed.headers['access-control-allow-credentials']], [201, 'http://localhost:5173', 'true']);
  });

  await t.test('send_message with attachments: every member sees them; the members may download, an outsider and a wrong id get the same 404', async () => {
    const picture = await uploaded(server, alice, photo, 'beach.jpg');
    const notes = await uploaded(server, alice, text, 'notes.txt');
    const sent = await alice.client.request('send_message', { conversation_id: room.id, content: '', attachments: [picture.id, notes.id, picture.id] });
    const attachments = [
      { id: picture.id, name: 'beach.jpg', size: picture.size, type: 'image/jpeg', width: 400, height: 600, url: `/files/${picture.id}`, thumbnail_url: `/files/${picture.id}/thumbnail` },
      { id: notes.id, name: 'notes.txt', size: text.length, type: 'text/plain', url: `/files/${notes.id}` },
    ];
    assert.deepEqual([sent.content, sent.attachments], ['', attachments], 'a file listed twice is attached once; blank content is allowed with files');
    const push = await waitFor(bob.pushes, (p) => p.type === 'send_message' && p.data.id === sent.id);
    assert.deepEqual(push.data, sent);
    const page = await bob.client.request('get_messages', { conversation_id: room.id });
    assert.deepEqual(page.messages[0]!.attachments, attachments);
    const sync = await bob.client.request('sync', { since: 0, limit: 500 });
    assert.deepEqual(sync.events.find((event) => event.type === 'send_message' && (event.data as { id: number }).id === sent.id)?.data, sent);
    const reply = await bob.client.request('send_message', { conversation_id: room.id, content: 'nice', reply_id: sent.id });
    assert.deepEqual(reply.reply_to, { id: sent.id, sender_username: alice.username, content: '', deleted: false, attachments }, 'the preview shows the files');

    const outsider = await person(server, 'dave');
    assert.deepEqual(await statuses(server, [alice, bob, carol, outsider], picture.id.replace(/^/, '/files/')), [200, 200, 200, 404]);
    assert.deepEqual(await statuses(server, [bob, outsider], `/files/${picture.id}/thumbnail`), [200, 404]);
    const thumbnail = await download(server, bob, `/files/${picture.id}/thumbnail`);
    assert.deepEqual([thumbnail.headers['content-type'], (await sharp(thumbnail.body).metadata()).format], ['image/webp', 'webp']);
    const text404 = await download(server, outsider, `/files/${notes.id}`);
    const missing = await download(server, outsider, `/files/${absent}`);
    assert.deepEqual([text404.status, text404.body.toString(), text404.headers['content-type']], [missing.status, missing.body.toString(), missing.headers['content-type']], 'not yours and not there look the same');
    assert.equal((await download(server, bob, `/files/${notes.id}/thumbnail`)).status, 404, 'only images have thumbnails');
    assert.equal((await download(server, undefined, `/files/${notes.id}`)).status, 401);
    const served = await download(server, bob, `/files/${notes.id}`, { range: 'bytes=0-4' });
    assert.deepEqual([served.status, served.body.toString(), served.headers['content-range'], served.headers['x-content-type-options']], [206, 'plain', `bytes 0-4/${text.length}`, 'nosniff']);
  });

  await t.test('attachments are checked: your own uploads only, at most 10, ids as POST /files answers them; blank content needs files', async () => {
    const bobs = await uploaded(server, bob, text, 'bob.txt');
    await expectError(alice.client, { type: 'send_message', conversation_id: room.id, content: 'x', attachments: [bobs.id] }, `no file ${bobs.id} of yours: upload it first (POST /files; a webhook: POST <its url>/files)`, 'not_found');
    await expectError(alice.client, { type: 'send_message', conversation_id: room.id, content: 'x', attachments: [absent] }, `no file ${absent} of yours: upload it first (POST /files; a webhook: POST <its url>/files)`, 'not_found');
    await expectError(alice.client, { type: 'send_message', conversation_id: room.id, content: 'x', attachments: Array(11).fill(absent) }, 'a message may carry at most 10 files', 'bad_request');
    for (const attachments of ['nope', ['../etc/passwd'], [1]]) {
      await expectError(alice.client, { type: 'send_message', conversation_id: room.id, content: 'x', attachments }, 'attachments must be a list of file ids (32 hexadecimal digits each, as POST /files answered)', 'bad_request');
    }
    await expectError(alice.client, { type: 'send_message', conversation_id: room.id, content: '  ' }, 'message content should be non empty string', 'bad_request');
    await expectError(alice.client, { type: 'send_message', conversation_id: room.id, content: '', attachments: [] }, 'message content should be non empty string', 'bad_request');
    assert.equal((await download(server, alice, `/files/${bobs.id}`)).status, 404, 'an unattached upload is its uploader\'s alone');
  });

  await t.test('edit_message keeps the files (and may blank the caption); delete_message removes them for everyone, the uploader too', async () => {
    const unique = Buffer.from(`only here ${Date.now()}\n`);
    const file = await uploaded(server, alice, unique, 'once.txt');
    const sent = await alice.client.request('send_message', { conversation_id: room.id, content: 'caption', attachments: [file.id] });
    const edited = await alice.client.request('edit_message', { message_id: sent.id, content: '' });
    assert.deepEqual([edited.content, edited.attachments], ['', sent.attachments]);
    const plain = await alice.client.request('send_message', { conversation_id: room.id, content: 'words' });
    await expectError(alice.client, { type: 'edit_message', message_id: plain.id, content: ' ' }, 'message content should be non empty string', 'bad_request');
    const deleted = await alice.client.request('delete_message', { message_id: sent.id });
    assert.deepEqual([deleted.deleted, deleted.attachments], [true, []]);
    assert.deepEqual(await statuses(server, [alice, bob], `/files/${file.id}`), [404, 404]);
    const logged = (await bob.client.request('sync', { since: 0, limit: 500 })).events.filter((event) => (event.data as { id?: number }).id === sent.id);
    assert.ok(logged.length >= 2 && logged.every((event) => JSON.stringify(event.data).includes('"attachments":[]')), 'the log forgets the files too');
    await expectError(alice.client, { type: 'send_message', conversation_id: room.id, content: 'again', attachments: [file.id] }, `no file ${file.id} of yours: upload it first (POST /files; a webhook: POST <its url>/files)`, 'not_found');
  });

  await t.test('the same bytes in two messages: deleting one keeps the bytes for the other', async () => {
    const first = await uploaded(server, alice, text, 'one.txt');
    const second = await uploaded(server, alice, text, 'two.txt');
    const one = await alice.client.request('send_message', { conversation_id: room.id, content: 'one', attachments: [first.id] });
    await alice.client.request('send_message', { conversation_id: room.id, content: 'two', attachments: [second.id] });
    await alice.client.request('delete_message', { message_id: one.id });
    assert.equal((await download(server, bob, `/files/${first.id}`)).status, 404);
    const kept = await download(server, bob, `/files/${second.id}`);
    assert.deepEqual([kept.status, kept.body], [200, text]);
  });

  await t.test('clear_chat and removal end access: people who cleared the chat or left get 404', async () => {
    const group = await alice.client.request('create_conversation', { name: 'short', members: [bob.username, carol.username] });
    const file = await uploaded(server, alice, photo, 'later.jpg');
    await alice.client.request('send_message', { conversation_id: group.id, content: 'look', attachments: [file.id] });
    assert.deepEqual(await statuses(server, [bob, carol], `/files/${file.id}`), [200, 200]);
    await bob.client.request('clear_chat', { conversation_id: group.id });
    await alice.client.request('remove_member', { conversation_id: group.id, username: carol.username });
    assert.deepEqual(await statuses(server, [alice, bob, carol], `/files/${file.id}`), [200, 404, 404]);
    assert.deepEqual(await statuses(server, [bob, carol], `/files/${file.id}/thumbnail`), [404, 404]);
    const logo = await uploaded(server, alice, photo, 'logo.jpg');
    await alice.client.request('update_conversation', { conversation_id: group.id, avatar: logo.id });
    await alice.client.request('delete_conversation', { conversation_id: group.id });
    assert.deepEqual(await statuses(server, [alice, alice], [`/files/${file.id}`, `/files/${logo.id}`]), [404, 404], 'a deleted conversation\'s files and picture go, for the uploader too');
  });

  await t.test('get_files: a conversation\'s files, newest message first, whole messages per page', async () => {
    const group = await alice.client.request('create_conversation', { name: 'media', members: [bob.username] });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await uploaded(server, alice, Buffer.from(`file ${i}\n`), `f${i}.txt`)).id);
    const first = await alice.client.request('send_message', { conversation_id: group.id, content: 'a', attachments: [ids[0]!, ids[1]!] });
    const second = await bob.client.request('send_message', { conversation_id: group.id, content: 'no files' });
    const third = await alice.client.request('send_message', { conversation_id: group.id, content: 'b', attachments: [ids[2]!] });
    const page = await bob.client.request('get_files', { conversation_id: group.id, limit: 2 });
    assert.deepEqual([page.files.map((file) => [file.id, file.message_id, file.sender_username]), page.next], [[[ids[2], third.id, alice.username]], third.id], 'a message\'s files are never split across pages');
    assert.deepEqual({ ...page.files[0], sent_at: 0 }, { ...third.attachments[0], message_id: third.id, sender_username: alice.username, sent_at: 0 });
    const rest = await bob.client.request('get_files', { conversation_id: group.id, limit: 1, before: page.next! });
    assert.deepEqual([rest.files.map((file) => [file.id, file.message_id]), rest.next], [[[ids[0], first.id], [ids[1], first.id]], null], 'one message alone may fill more than a page');
    const all = await bob.client.request('get_files', { conversation_id: group.id });
    assert.deepEqual([all.files.map((file) => file.id), all.next], [[ids[2], ids[0], ids[1]], null]);
    await bob.client.request('delete_message', { message_id: second.id });
    await alice.client.request('delete_message', { message_id: third.id });
    assert.deepEqual((await bob.client.request('get_files', { conversation_id: group.id })).files.map((file) => file.id), [ids[0], ids[1]], 'deleted messages\' files are gone');
    await bob.client.request('clear_chat', { conversation_id: group.id });
    assert.deepEqual((await bob.client.request('get_files', { conversation_id: group.id })).files, [], 'nothing before your clear_chat point');
    await expectError(carol.client, { type: 'get_files', conversation_id: group.id }, `${carol.username} not part of conversation with ${group.id} id`, 'not_found');
  });

  await t.test('avatars: update_profile and update_conversation take an image of yours; anyone signed in may fetch it; changes are pushed', async () => {
    await alice.client.request('add_contact', { contact_username: bob.username });
    const face = await uploaded(server, alice, photo, 'me.jpg');
    const notes = await uploaded(server, alice, text, 'not-a-face.txt');
    const stranger = await person(server, 'erin');
    assert.equal((await download(server, stranger, `/files/${face.id}`)).status, 404, 'not yet a picture');
    await expectError(alice.client, { type: 'update_profile', avatar: notes.id }, `file ${notes.id} is not an image: a picture must be a JPEG, PNG, WebP, GIF or AVIF`, 'bad_request');
    const bobs = await uploaded(server, bob, photo, 'bob.jpg');
    await expectError(alice.client, { type: 'update_profile', avatar: bobs.id }, `no file ${bobs.id} of yours: upload it first (POST /files; a webhook: POST <its url>/files)`, 'not_found');
    await expectError(alice.client, { type: 'update_profile', avatar: 'me.jpg' }, 'avatar must be a file id (32 hexadecimal digits, as POST /files answered) or null', 'bad_request');
    const me = await alice.client.request('update_profile', { avatar: face.id });
    assert.equal(me.avatar_url, `/files/${face.id}`);
    const pushed = await waitFor(bob.pushes, (p) => p.type === 'user_updated' && p.data.user.username === alice.username && p.data.user.avatar_url !== null);
    assert.equal(pushed.type === 'user_updated' && pushed.data.user.avatar_url, `/files/${face.id}`);
    assert.deepEqual(await statuses(server, [stranger, bob], `/files/${face.id}`), [200, 200]);
    assert.equal((await download(server, stranger, `/files/${face.id}/thumbnail`)).status, 200);
    const members = await bob.client.request('get_members', { conversation_id: room.id });
    assert.equal(members.find((member) => member.username === alice.username)?.avatar_url, `/files/${face.id}`);

    const logo = await uploaded(server, alice, photo, 'logo.jpg');
    const changed = await alice.client.request('update_conversation', { conversation_id: room.id, avatar: logo.id });
    assert.deepEqual(changed, { conversation_id: room.id, name: 'photos', description: '', avatar_url: `/files/${logo.id}`, by: alice.username });
    await waitFor(carol.pushes, (p) => p.type === 'update_conversation' && p.data.avatar_url === `/files/${logo.id}`);
    assert.equal((await carol.client.request('get_conversation_info', { id: room.id })).avatar_url, `/files/${logo.id}`);
    assert.equal((await download(server, stranger, `/files/${logo.id}`)).status, 200);

    const removed = await alice.client.request('update_profile', { avatar: null });
    assert.equal(removed.avatar_url, null);
    assert.deepEqual(await statuses(server, [alice, stranger], `/files/${face.id}`), [404, 404], 'a replaced picture nothing else refers to is removed');
  });
});

test('upload limits: MAX_UPLOAD_BYTES, the quota, uploads per hour; unattached uploads swept', async (t) => {
  const server = await startServer(t, { ...(await engine(t)), MAX_UPLOAD_BYTES: '2000', UPLOAD_QUOTA_BYTES: '3000', UPLOADS_PER_HOUR: '5', UNATTACHED_FILE_HOURS: '0.001' });
  const filesDir = join(server.dir, 'files');
  const alice = await person(server, 'alice');
  const bob = await person(server, 'bob');

  await t.test('over MAX_UPLOAD_BYTES: 413 and nothing left on disk', async () => {
    const big = await upload(server, alice, Buffer.alloc(2001, 0x61), 'big.txt');
    assert.deepEqual([big.status, big.body.toString()], [413, 'file too large: the limit is 2000 bytes']);
    assert.deepEqual(onDisk(filesDir), { stored: [], temporary: [] });
  });

  await t.test('the quota counts what you uploaded; past it, 413 saying what is left', async () => {
    await uploaded(server, alice, Buffer.alloc(1500, 0x62), 'a.txt');
    await uploaded(server, alice, Buffer.alloc(1500, 0x63), 'b.txt');
    const over = await upload(server, alice, Buffer.alloc(10, 0x64), 'c.txt');
    assert.deepEqual([over.status, over.body.toString()], [413, 'upload quota exceeded: 0 of your 3000 bytes are left (UPLOAD_QUOTA_BYTES); delete messages with files to make room']);
    await uploaded(server, bob, Buffer.alloc(10, 0x64), 'c.txt');
  });

  await t.test('uploads never attached are removed after UNATTACHED_FILE_HOURS, freeing the quota', async () => {
    for (let tries = 0; tries < 100 && onDisk(filesDir).stored.length > 0; tries++) await sleep(100);
    assert.deepEqual(onDisk(filesDir), { stored: [], temporary: [] });
    await uploaded(server, alice, Buffer.alloc(1500, 0x65), 'd.txt');
  });

  await t.test('the bytes of a deleted message\'s files go once no file refers to them; the same bytes elsewhere stay', async () => {
    const room = await bob.client.request('create_conversation', { name: 'gone', members: [] });
    const once = await uploaded(server, bob, 'only in one message\n', 'once.txt');
    const twice = [await uploaded(server, bob, 'in two messages\n', 'a.txt'), await uploaded(server, bob, 'in two messages\n', 'b.txt')];
    const messages = [];
    for (const file of [once, ...twice]) messages.push(await bob.client.request('send_message', { conversation_id: room.id, content: file.name, attachments: [file.id] }));
    const stored = (data: string) => onDisk(filesDir).stored.includes(`${sha256(Buffer.from(data)).slice(0, 2)}/${sha256(Buffer.from(data)).slice(2, 4)}/${sha256(Buffer.from(data))}`);
    assert.deepEqual([stored('only in one message\n'), stored('in two messages\n')], [true, true]);
    await bob.client.request('delete_message', { message_id: messages[0]!.id });
    await bob.client.request('delete_message', { message_id: messages[1]!.id });
    for (let tries = 0; tries < 100 && stored('only in one message\n'); tries++) await sleep(50);
    assert.deepEqual([stored('only in one message\n'), stored('in two messages\n')], [false, true]);
    await sleep(1500);
    const kept = await download(server, bob, `/files/${twice[1]!.id}`);
    assert.deepEqual([kept.status, kept.body.toString()], [200, 'in two messages\n'], 'still there after more sweeps');
  });

  await t.test('past UPLOADS_PER_HOUR: 429 with Retry-After', async () => {
    const refused = await upload(server, alice, 'x', 'e.txt');
    assert.equal(refused.status, 429);
    assert.match(refused.body.toString(), /^too many uploads: retry in \d+ (minutes?|seconds?)/);
    assert.ok(Number(refused.headers['retry-after']) > 0);
  });
});

test('uploads under way at once: three per person and twelve per address; the next is refused with 429 until one ends', async (t) => {
  const server = await startServer(t, await engine(t));
  const filesDir = join(server.dir, 'files');
  const people = [];
  for (let i = 0; i < 5; i++) people.push(await person(server, 'holder'));
  const [alice, ...others] = people as [Person, ...Person[]];
  const alices = [0, 1, 2].map((i) => heldUpload(server.http, alice.token, `held${i}.txt`));
  await underWay(filesDir, 3);
  const refused = await upload(server, alice, 'one too many', 'fourth.txt');
  assert.deepEqual([refused.status, refused.body.toString(), refused.headers['retry-after']], [429, 'too many uploads at once: wait for one to finish', '1']);
  alices[0]!.finish();
  assert.equal((await alices[0]!.result).status, 201);
  await uploaded(server, alice, 'after one ended', 'fourth.txt');

  // Everyone here shares 127.0.0.1: with Alice's two and three each for three more people, twelve are under way.
  const more = others.slice(0, 3).flatMap((who) => [0, 1, 2].map((i) => heldUpload(server.http, who.token, `other${i}.txt`)));
  await underWay(filesDir, 11);
  alices.push(heldUpload(server.http, alice.token, 'twelfth.txt'));
  await underWay(filesDir, 12);
  const fifth = await upload(server, others[3]!, 'nothing under way of mine', 'mine.txt');
  assert.deepEqual([fifth.status, fifth.body.toString()], [429, 'too many uploads at once: wait for one to finish'], 'the address is at twelve');
  for (const held of [...alices.slice(1), ...more]) held.finish();
  for (const held of [...alices.slice(1), ...more]) assert.equal((await held.result).status, 201);
  await uploaded(server, others[3]!, 'room again', 'mine.txt');
});

test('copy-to-postgres carries files, attachments and pictures: the copy serves them as the original did', async (t) => {
  if (testEngine() !== 'sqlite') return t.skip('copies a SQLite database: runs in the SQLite pass');
  if (!needs(t, 'postgres')) return;
  const original = await startServer(t);
  const alice = await person(original, 'alice');
  const bob = await person(original, 'bob');
  const room = await alice.client.request('create_conversation', { name: 'moving', members: [bob.username] });
  const photo = await gpsJpeg(300, 200);
  const picture = await uploaded(original, alice, photo, 'p.jpg');
  const sent = await alice.client.request('send_message', { conversation_id: room.id, content: 'moving day', attachments: [picture.id] });
  const face = await uploaded(original, bob, photo, 'face.jpg'); // the same bytes: two files, one stored copy (and one thumbnail)
  await bob.client.request('update_profile', { avatar: face.id });
  await original.stop();

  const url = await testDatabase(t);
  const copied = await runAdmin({ DBPATH: original.dbPath }, ['copy-to-postgres', original.dbPath, url]);
  assert.equal(copied.code, 0, copied.stderr);
  for (const [table, rows] of [['files', 2], ['message_attachments', 1], ['file_blobs', 2]] as const) assert.match(copied.stdout, new RegExp(`^${table}: ${rows} rows, sha256 [0-9a-f]{16} on both sides$`, 'm'));

  const moved = await startServer(t, { DATABASE_URL: url, FILES_DIR: join(original.dir, 'files') });
  const [aliceAgain, bobAgain] = [{ ...alice, token: await login(moved, alice.username) }, { ...bob, token: await login(moved, bob.username) }];
  const bobClient = await connect(moved, bobAgain.token);
  t.after(() => bobClient.close());
  assert.deepEqual((await bobClient.request('get_messages', { conversation_id: room.id })).messages[0]!.attachments, sent.attachments);
  assert.equal((await bobClient.request('self')).avatar_url, `/files/${face.id}`);
  const served = await download(moved, bobAgain, `/files/${picture.id}`);
  assert.deepEqual([served.status, sha256(served.body)], [200, picture.sha256]);
  assert.equal((await download(moved, aliceAgain, `/files/${face.id}/thumbnail`)).status, 200);
});
