// The file routes over real HTTP on a real uWebSockets.js app and a real disk: uploads (multipart and raw), limits, hang-ups, and downloads with their headers, ranges and ETags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import sharp from 'sharp';
import { spawnFilesApp, startFilesApp } from './helpers/files-app.ts';
import { chunksOf, exchange, onDisk } from './helpers/bytes.ts';
import { gpsJpeg, pngClaiming } from './helpers/images.ts';
import { sleep, until } from './helpers/wait.ts';

const alice = { cookie: 'user=alice' };
const bob = { cookie: 'user=bob' };
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const csp = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox";
const limit = 1024 * 1024;

/** A multipart/form-data body as a browser's FormData sends it. */
function multipart(parts: { name: string; filename?: string; type?: string; data: Buffer | string }[], boundary = '----parleyBoundary7MA4YWxk'): { body: Buffer; headers: Record<string, string> } {
  const pieces = parts.flatMap(({ name, filename, type, data }) => [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename === undefined ? '' : `; filename="${filename}"`}\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n`),
    Buffer.from(data),
    Buffer.from('\r\n'),
  ]);
  return { body: Buffer.concat([...pieces, Buffer.from(`--${boundary}--\r\n`)]), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

test('file routes', async (t) => {
  const app = await startFilesApp({ MAX_UPLOAD_BYTES: String(limit) });
  t.after(() => app.close());
  const upload = (path: string, body: Buffer | string, headers: Record<string, string> = {}) => exchange(app.base, 'POST', path, { body, headers: { ...alice, ...headers } });
  const get = (path: string, headers: Record<string, string> = {}) => exchange(app.base, 'GET', path, { headers: { ...alice, ...headers } });
  const json = (result: { body: Buffer }) => JSON.parse(result.body.toString());
  const nothingLeft = (before: string[]) => assert.deepEqual(onDisk(app.filesDir), { stored: before, temporary: [] });

  await t.test('a photo sent with FormData: 201, stored without its GPS position, served inline with a thumbnail', async () => {
    const form = new FormData();
    const photo = await gpsJpeg(1200, 800);
    form.append('file', new Blob([new Uint8Array(photo)], { type: 'text/plain' }), 'C:\\fakepath\\holiday.jpg');
    const response = await fetch(`${app.base}/files`, { method: 'POST', body: form, headers: alice });
    const reply = await response.json();
    const served = await get(`/files/${reply.id}`);
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('location'), `/files/${reply.id}`);
    // size and sha256 are the stored, cleaned copy's; received, the bytes sent.
    assert.notEqual(sha256(served.body), sha256(photo));
    assert.deepEqual(reply, { id: 'f1', name: 'holiday.jpg', size: served.body.length, type: 'image/jpeg', sha256: sha256(served.body), width: 800, height: 1200, received: { size: photo.length, sha256: sha256(photo) } });
    assert.equal(served.status, 200);
    assert.deepEqual(
      [served.headers['content-type'], served.headers['content-length'], served.headers['content-disposition'], served.headers.etag, served.headers['x-content-type-options'], served.headers['content-security-policy'], served.headers['cache-control'], served.headers['accept-ranges']],
      ['image/jpeg', String(served.body.length), `inline; filename="holiday.jpg"; filename*=UTF-8''holiday.jpg`, `"${reply.sha256}"`, 'nosniff', csp, 'private, no-cache', 'bytes'],
    );
    for (const secret of ['WGS-84', 'Alice at home', 'GPSLatitude', 'Exif']) assert.ok(!served.body.includes(secret), `${secret} is not served`);
    assert.equal((await sharp(served.body).metadata()).exif, undefined);
    const thumbnail = await get(`/files/${reply.id}/thumbnail`);
    const meta = await sharp(thumbnail.body).metadata();
    assert.deepEqual([thumbnail.status, thumbnail.headers['content-type'], thumbnail.headers['content-disposition'], meta.format, meta.width, meta.height, meta.exif],
      [200, 'image/webp', `inline; filename="holiday.webp"; filename*=UTF-8''holiday.webp`, 'webp', 320, 480, undefined]);
    assert.equal(thumbnail.headers.etag, `"${app.uploads.get(reply.id)!.file.thumbnail!.sha256}"`);
  });

  await t.test('raw bytes with ?filename=: the sniffed type wins over the claimed one', async () => {
    const pdf = Buffer.from('%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');
    const result = await upload('/files?filename=report%20(final).png', pdf, { 'content-type': 'image/png' });
    assert.deepEqual([result.status, json(result)], [201, { id: 'f2', name: 'report (final).png', size: pdf.length, type: 'application/pdf', sha256: sha256(pdf) }]);
    const served = await get('/files/f2');
    assert.deepEqual([served.headers['content-type'], served.headers['content-disposition'], served.body], ['application/pdf', `attachment; filename="report (final).png"; filename*=UTF-8''report%20%28final%29.png`, pdf]);
    assert.deepEqual([(await get('/files/f2/thumbnail')).status], [404], 'only images have thumbnails');
  });

  await t.test('an HTML page named .png and an SVG are served as what they are, as attachments, with the safety headers', async () => {
    const page = '<!DOCTYPE html><script>fetch("/files/f1").then(r => r.text()).then(alert)</script>';
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><circle r="4"/></svg>';
    const form = multipart([{ name: 'file', filename: 'cute-cat.png', type: 'image/png', data: page }]);
    const html = json(await upload('/files', form.body, form.headers));
    const drawing = json(await upload('/files?filename=logo.svg', svg, { 'content-type': 'image/png' }));
    assert.deepEqual([html.type, html.name, drawing.type, drawing.name], ['text/html', 'cute-cat.png', 'image/svg+xml', 'logo.svg']);
    for (const [id, type, name, content] of [[html.id, 'text/html', 'cute-cat.png', page], [drawing.id, 'image/svg+xml', 'logo.svg', svg]]) {
      const served = await get(`/files/${id}`);
      assert.deepEqual(
        [served.status, served.headers['content-type'], served.headers['content-disposition'], served.headers['x-content-type-options'], served.headers['content-security-policy'], served.headers['cache-control'], served.body.toString()],
        [200, type, `attachment; filename="${name}"; filename*=UTF-8''${name}`, 'nosniff', csp, 'private, no-cache', content],
      );
    }
  });

  await t.test('the same bytes uploaded twice are two files over one stored copy', async () => {
    const bytes = randomBytes(5000);
    const before = onDisk(app.filesDir).stored;
    const first = json(await upload('/files?filename=one.bin', bytes));
    const second = json(await upload('/files?filename=two.bin', bytes));
    assert.deepEqual([first.name, second.name, first.sha256, second.sha256, first.type], ['one.bin', 'two.bin', sha256(bytes), sha256(bytes), 'application/octet-stream']);
    assert.notEqual(first.id, second.id);
    const key = sha256(bytes);
    assert.deepEqual(onDisk(app.filesDir), { stored: [...before, `${key.slice(0, 2)}/${key.slice(2, 4)}/${key}`].sort(), temporary: [] });
    assert.deepEqual((await get(`/files/${second.id}`)).body, bytes);
  });

  await t.test('Range: 206 with Content-Range for one range, the whole file for others, 416 past the end', async () => {
    const bytes = randomBytes(100_000);
    const { id } = json(await upload('/files?filename=song.bin', bytes));
    const etag = `"${sha256(bytes)}"`;
    const partial = async (range: string, extra: Record<string, string> = {}) => {
      const result = await get(`/files/${id}`, { range, ...extra });
      return [result.status, result.headers['content-range'], result.headers['content-length'], result.body];
    };
    assert.deepEqual(await partial('bytes=0-9'), [206, 'bytes 0-9/100000', '10', bytes.subarray(0, 10)]);
    assert.deepEqual(await partial('bytes=99990-'), [206, 'bytes 99990-99999/100000', '10', bytes.subarray(99990)]);
    assert.deepEqual(await partial('bytes=-5'), [206, 'bytes 99995-99999/100000', '5', bytes.subarray(99995)]);
    assert.deepEqual(await partial('bytes=50000-999999999'), [206, 'bytes 50000-99999/100000', '50000', bytes.subarray(50000)]);
    assert.deepEqual(await partial('bytes=0-0,5-6'), [200, undefined, '100000', bytes], 'several ranges: the whole file');
    assert.deepEqual(await partial('bytes=9-5'), [200, undefined, '100000', bytes], 'an invalid range is ignored');
    assert.deepEqual(await partial('bytes=0-9', { 'if-range': '"something else"' }), [200, undefined, '100000', bytes], 'If-Range of other bytes: the whole file');
    assert.deepEqual(await partial('bytes=0-9', { 'if-range': etag }), [206, 'bytes 0-9/100000', '10', bytes.subarray(0, 10)]);
    const past = await get(`/files/${id}`, { range: 'bytes=100000-' });
    assert.deepEqual([past.status, past.headers['content-range'], past.body.toString()], [416, 'bytes */100000', 'range not satisfiable: the file has 100000 bytes']);
    const empty = json(await upload('/files?filename=empty.txt', ''));
    assert.deepEqual([empty.size, empty.type], [0, 'text/plain']);
    const whole = await get(`/files/${empty.id}`);
    assert.deepEqual([whole.status, whole.headers['content-length'], whole.body.length], [200, '0', 0]);
    assert.deepEqual(await get(`/files/${empty.id}`, { range: 'bytes=0-' }).then((r) => [r.status, r.headers['content-range']]), [416, 'bytes */0']);
  });

  await t.test('ETag and If-None-Match: 304 without a body while the bytes are the same', async () => {
    const bytes = randomBytes(2000);
    const { id } = json(await upload('/files?filename=a.bin', bytes));
    const etag = `"${sha256(bytes)}"`;
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const result = await get(`/files/${id}`, { 'if-none-match': ifNoneMatch, range: 'bytes=0-1' });
      assert.deepEqual([result.status, result.headers.etag, result.headers['cache-control'], result.headers['content-length'], result.body.length], [304, etag, 'private, no-cache', undefined, 0], ifNoneMatch);
    }
    assert.equal((await get(`/files/${id}`, { 'if-none-match': '"other"' })).status, 200);
  });

  await t.test('who may: nobody but the records say so; outsiders and unknown ids get the same 404', async () => {
    const before = onDisk(app.filesDir).stored;
    const anonymous = await exchange(app.base, 'POST', '/files?filename=x.txt', { body: 'hello' });
    assert.deepEqual([anonymous.status, anonymous.body.toString()], [401, 'login required']);
    const full = await exchange(app.base, 'POST', '/files?filename=x.txt', { body: 'over quota', headers: { cookie: 'user=full' } });
    assert.deepEqual([full.status, full.body.toString()], [413, 'upload quota exceeded']);
    nothingLeft(before);
    for (const path of ['/files/f1', '/files/f1/thumbnail']) {
      const outsider = await exchange(app.base, 'GET', path, { headers: bob });
      assert.deepEqual([outsider.status, outsider.body.toString()], [404, 'file not found']);
    }
    assert.deepEqual(await get('/files/f999').then((r) => [r.status, r.body.toString()]), [404, 'file not found']);
    assert.deepEqual(await get('/files/%E0%A4%A').then((r) => [r.status, r.body.toString()]), [404, 'not found: GET /files/%E0%A4%A']);
    assert.deepEqual(await get('/files/').then((r) => [r.status, r.body.toString()]), [404, 'not found: GET /files/']);
    const wrongMethod = await get('/files');
    assert.deepEqual([wrongMethod.status, wrongMethod.headers.allow, wrongMethod.body.toString()], [405, 'POST, OPTIONS', 'method not allowed: use POST, OPTIONS']);
  });

  await t.test('bad uploads are answered with what to send instead, and leave nothing', async () => {
    const before = onDisk(app.filesDir).stored;
    const how = 'send multipart/form-data with one part named "file", or the raw bytes to /files?filename=<name>';
    const onePart = `the multipart body must hold one part, named "file": ${how}`;
    const cases: [Buffer | string, Record<string, string>, string][] = [
      ['raw bytes', {}, `filename required: ${how}`],
      ...[
        [{ name: 'upload', filename: 'a.txt', data: 'x' }],
        [{ name: 'title', data: 'holiday' }, { name: 'file', filename: 'a.txt', data: 'x' }],
        [{ name: 'file', filename: 'a.txt', data: 'first' }, { name: 'file', filename: 'b.txt', data: 'second' }],
        [{ name: 'file', filename: 'a.txt', data: 'x' }, { name: 'title', data: 'holiday' }],
        [],
      ].map((parts): [Buffer, Record<string, string>, string] => {
        const form = multipart(parts);
        return [form.body, form.headers, onePart];
      }),
      ['--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nno end', { 'content-type': 'multipart/form-data; boundary=x' }, 'malformed multipart body: Unexpected end of form'],
      ['whatever', { 'content-type': 'multipart/form-data' }, 'malformed multipart body: Multipart: Boundary not found'],
    ];
    for (const [body, headers, message] of cases) {
      const result = await upload('/files', body, headers);
      assert.deepEqual([result.status, result.body.toString()], [400, message], message);
    }
    const bomb = await upload('/files?filename=bomb.png', await pngClaiming(8000, 6251));
    assert.deepEqual([bomb.status, bomb.body.toString()], [400, 'image too large: at most 50 megapixels for PNG']);
    nothingLeft(before);
  });

  await t.test('an upload over MAX_UPLOAD_BYTES is cut off with 413 as it passes the limit, and nothing is left', async () => {
    const before = onDisk(app.filesDir).stored;
    const tooLarge = `file too large: the limit is ${limit} bytes`;
    const raw = await exchange(app.base, 'POST', '/files?filename=big.bin', { headers: alice, chunks: chunksOf(48, 64 * 1024) });
    assert.deepEqual([raw.status, raw.body.toString()], [413, tooLarge]);
    nothingLeft(before);
    const form = multipart([{ name: 'file', filename: 'big.bin', data: Buffer.alloc(limit + 1, 1) }]);
    const viaForm = await exchange(app.base, 'POST', '/files', { headers: { ...alice, ...form.headers }, chunks: (async function* () {
      for (let at = 0; at < form.body.length; at += 64 * 1024) yield form.body.subarray(at, at + 64 * 1024);
    })() });
    assert.deepEqual([viaForm.status, viaForm.body.toString()], [413, tooLarge]);
    const image = await gpsJpeg(1200, 800);
    const photo = await exchange(app.base, 'POST', '/files?filename=big.jpg', { headers: alice, chunks: (async function* () {
      yield image;
      yield* chunksOf(32, 64 * 1024);
    })() });
    assert.deepEqual([photo.status, photo.body.toString()], [413, tooLarge], 'an image is cut off the same way');
    nothingLeft(before);
    const exact = await upload('/files?filename=exact.bin', Buffer.alloc(limit, 2));
    assert.deepEqual([exact.status, json(exact).size], [201, limit]);
  });

  await t.test('a body announced too large is refused before a byte of it is read', async () => {
    for (const [path, type, message] of [
      ['/files?filename=big.bin', 'application/octet-stream', `file too large: the limit is ${limit} bytes`],
      ['/files', 'multipart/form-data; boundary=x', `file too large: the limit is ${limit} bytes`],
    ]) {
      const answer = await new Promise<[number, string]>((resolve, reject) => {
        const req = request(`${app.base}${path}`, { method: 'POST', agent: false, headers: { ...alice, 'content-type': type, 'content-length': String(50 * limit) } }, (res) => {
          let body = '';
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve([res.statusCode!, body]));
        });
        req.on('error', reject);
        req.flushHeaders(); // the headers only: the answer must not wait for the body
      });
      assert.deepEqual(answer, [413, message]);
    }
  });

  await t.test('a client that hangs up half-way leaves nothing behind', async () => {
    const before = onDisk(app.filesDir).stored;
    const uploads = app.uploads.size;
    for (const first of [Buffer.alloc(256 * 1024, 3), await gpsJpeg(1200, 800)]) {
      const req = request(`${app.base}/files?filename=half.bin`, { method: 'POST', agent: false, headers: { ...alice, 'content-length': String(limit) } });
      req.on('error', () => {});
      req.write(first);
      await until('the upload is being written', () => onDisk(app.filesDir).temporary.length === 1);
      req.destroy();
      await until('the partial file is removed', () => onDisk(app.filesDir).temporary.length === 0);
    }
    // Gone while the upload waits for its authorization, before a byte of its body is read.
    const early = request(`${app.base}/files?filename=early.bin`, { method: 'POST', agent: false, headers: { cookie: 'user=slow', 'content-length': String(limit) } });
    early.on('error', () => {});
    early.write(Buffer.alloc(1024, 4)); // less than the body stream holds: the socket is not paused, so the hang-up is seen at once
    await sleep(50);
    early.destroy();
    await sleep(400);
    assert.equal((await get('/files/f1')).status, 200, 'the server goes on');
    nothingLeft(before);
    assert.equal(app.uploads.size, uploads, 'nothing was recorded');
    assert.deepEqual(app.logs.filter((line) => line.level === 'error'), []);
  });
});

test('a 25 MiB file goes up and comes back intact through a slow reader (backpressure)', async (t) => {
  const app = await startFilesApp({ MAX_UPLOAD_BYTES: String(32 * 1024 * 1024) });
  t.after(() => app.close());
  const bytes = randomBytes(25 * 1024 * 1024);
  const stored = await exchange(app.base, 'POST', '/files?filename=video.bin', { headers: alice, chunks: (async function* () {
    for (let at = 0; at < bytes.length; at += 256 * 1024) yield bytes.subarray(at, at + 256 * 1024);
  })() });
  const { id, sha256: hash, size } = JSON.parse(stored.body.toString());
  assert.deepEqual([stored.status, size, hash], [201, bytes.length, sha256(bytes)]);
  const back = await new Promise<Buffer>((resolve, reject) => {
    request(`${app.base}/files/${id}`, { agent: false, headers: alice }, (res) => {
      const parts: Buffer[] = [];
      res.pause(); // the server's socket fills up and it must wait for the reader
      setTimeout(() => res.resume(), 300);
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    }).on('error', reject).end();
  });
  assert.equal(back.length, bytes.length);
  assert.equal(sha256(back), sha256(bytes));
});

test('memory stays flat however large the upload: the server holds a few socket reads of it, not the file', async (t) => {
  const app = await spawnFilesApp({ MAX_UPLOAD_BYTES: String(256 * 1024 * 1024) });
  t.after(() => app.stop());
  const mib = 1024 * 1024;
  for (const size of [25, 200]) {
    const before = app.memory();
    app.resetPeak();
    const result = await exchange(app.base, 'POST', `/files?filename=${size}.bin`, { headers: alice, chunks: chunksOf(size, mib, size) });
    const { peak } = app.memory();
    assert.deepEqual([result.status, JSON.parse(result.body.toString()).size], [201, size * mib]);
    t.diagnostic(`${size} MiB upload: resident ${(before.rss / mib).toFixed(1)} MiB before, peak ${(peak / mib).toFixed(1)} MiB during`);
    assert.ok(peak - before.rss < 64 * mib, `a ${size} MiB upload raised the peak by ${((peak - before.rss) / mib).toFixed(1)} MiB`);
  }
});
