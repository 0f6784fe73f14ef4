// What a file is: types sniffed from bytes, images decoded with real sharp and cleaned of metadata, names made safe to show, and how each type is served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { imageFormat, ImageRefused, sniffType } from '../src/files/inspect.ts';
import { imageCleaner } from '../src/files/images.ts';
import { displayName, fileHeaders, presentation } from '../src/files/headers.ts';
import { gpsJpeg, pngClaiming, withGifComments, withPngText } from './helpers/images.ts';
import { stripMetadata } from '../src/files/strip.ts';

const images = imageCleaner(1);
const cleanImage = (input: string, output: string, type: string) => images.clean(input, output, imageFormat(type)!, { account: 'alice', address: '127.0.0.1' });

test('the type comes from the bytes: binary formats by file-type, then markup a browser would render, then text', async () => {
  const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#fff' } }).png().toBuffer();
  const jpeg = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#fff' } }).jpeg().toBuffer();
  const cases: [string | Buffer, string][] = [
    [png, 'image/png'],
    [jpeg, 'image/jpeg'],
    ['%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n', 'application/pdf'],
    ['<!DOCTYPE html><title>x</title>', 'text/html'],
    ['\n  <HTML>\n<body onload=alert(1)>', 'text/html'],
    ['<script>alert(1)</script>', 'text/html'],
    ['<!-- a comment --><b>hi</b>', 'text/html'],
    ['<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 'image/svg+xml'],
    ['<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', 'image/svg+xml'],
    ['<?xml version="1.0"?>\n<note><to>Bob</to></note>', 'application/xml'],
    ['<abc> is not a tag a browser renders as a page', 'text/plain'],
    ['Dear Bob,\n\tsee you at four.\n', 'text/plain'],
    ['résumé, naïve, 日本語', 'text/plain'],
    [Buffer.from([0x01, 0x02, 0x03, 0x00, 0x41]), 'application/octet-stream'],
    ['', 'text/plain'],
  ];
  for (const [bytes, type] of cases) assert.equal(await sniffType(Buffer.from(bytes)), type, String(bytes).slice(0, 40));
});

test('a JPEG loses its EXIF (GPS position, author) and XMP, is turned upright, and gets a thumbnail', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-inspect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const original = await gpsJpeg(1200, 800);
  for (const secret of ['WGS-84', 'Alice at home', 'GPSLatitude']) assert.ok(original.includes(secret), `the test image carries ${secret}`);
  assert.equal((await sharp(original).metadata()).orientation, 6);
  writeFileSync(join(dir, 'in'), original);

  const image = await cleanImage(join(dir, 'in'), join(dir, 'out'), 'image/jpeg');
  assert.deepEqual({ width: image?.width, height: image?.height }, { width: 800, height: 1200 }, 'EXIF orientation 6 is a quarter turn');
  const cleaned = readFileSync(join(dir, 'out'));
  for (const secret of ['WGS-84', 'Alice at home', 'GPSLatitude', 'Exif', 'xmpmeta']) assert.ok(!cleaned.includes(secret), `${secret} is gone`);
  const meta = await sharp(cleaned).metadata();
  assert.deepEqual({ format: meta.format, width: meta.width, height: meta.height, exif: meta.exif, xmp: meta.xmp, orientation: meta.orientation },
    { format: 'jpeg', width: 800, height: 1200, exif: undefined, xmp: undefined, orientation: undefined });
  const thumbnail = await sharp(image!.thumbnail.data).metadata();
  assert.deepEqual({ format: thumbnail.format, width: thumbnail.width, height: thumbnail.height, exif: thumbnail.exif },
    { format: 'webp', width: 320, height: 480, exif: undefined });
  assert.deepEqual({ width: image!.thumbnail.width, height: image!.thumbnail.height }, { width: 320, height: 480 });
});

test('every image format keeps its format and frames; small images are not enlarged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-inspect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = () => sharp({ create: { width: 60, height: 40, channels: 4, background: '#c33' } });
  const frame = (background: string) => sharp({ create: { width: 60, height: 40, channels: 4, background } }).png().toBuffer();
  const animated = await sharp([await frame('#f00'), await frame('#0f0'), await frame('#00f')], { join: { animated: true } }).gif().toBuffer();
  const cases: [string, Buffer, string, number][] = [
    ['image/png', await base().png().toBuffer(), 'png', 1],
    ['image/webp', await base().webp().toBuffer(), 'webp', 1],
    ['image/avif', await base().avif().toBuffer(), 'heif', 1],
    ['image/gif', animated, 'gif', 3],
  ];
  for (const [type, bytes, format, pages] of cases) {
    writeFileSync(join(dir, format), bytes);
    const image = await cleanImage(join(dir, format), join(dir, `${format}.out`), type);
    assert.deepEqual([image?.width, image?.height, image?.thumbnail.width, image?.thumbnail.height], [60, 40, 60, 40], type);
    const meta = await sharp(readFileSync(join(dir, `${format}.out`)), { animated: true }).metadata();
    assert.deepEqual([meta.format, meta.pages ?? 1], [format, pages], type);
  }
});

const secrets = ['Alice at home', 'WGS-84', 'GPSLatitude', 'PK\u0003\u0004'];
const xmp = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.4N"/></rdf:RDF></x:xmpmeta>';

/** Samples of PNG, WebP and GIF carrying every kind of metadata their formats hold. */
async function taggedImages(): Promise<{ png: Buffer; webp: Buffer; gif: Buffer }> {
  const base = () => sharp({ create: { width: 30, height: 20, channels: 4, background: '#c33' } });
  const exif = { IFD0: { Artist: 'Alice at home' }, IFD3: { GPSMapDatum: 'WGS-84' } };
  const png = withPngText(await base().png().withExif(exif).toBuffer(), 'Comment', 'Alice at home, GPSLatitude 48.85', Buffer.from('PK\u0003\u0004 an archive'));
  const webp = await base().webp().withExif(exif).withXmp(xmp).toBuffer();
  const frame = (background: string) => sharp({ create: { width: 30, height: 20, channels: 4, background } }).png().toBuffer();
  const animated = await sharp([await frame('#f00'), await frame('#0f0')], { join: { animated: true } }).gif({ loop: 0 }).toBuffer();
  return { png, webp, gif: withGifComments(animated, 'Alice at home', xmp) };
}

test('PNG, WebP and GIF lose the chunks that carry metadata and keep every byte of their pixels', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-inspect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const images = await taggedImages();
  const pixelBytes = {
    png: images.png.subarray(images.png.indexOf('IDAT') - 4, images.png.indexOf('IEND') - 4),
    webp: images.webp.subarray(images.webp.indexOf('VP8 '), images.webp.indexOf('EXIF')),
    gif: images.gif.subarray(images.gif.indexOf(Buffer.from([0x21, 0xf9]))),
  };
  for (const format of ['png', 'webp', 'gif'] as const) {
    const original = images[format];
    assert.ok(secrets.some((secret) => original.includes(secret)), `the ${format} sample carries metadata`);
    writeFileSync(join(dir, format), original);
    const image = await cleanImage(join(dir, format), join(dir, `${format}.out`), `image/${format}`);
    const cleaned = readFileSync(join(dir, `${format}.out`));
    for (const secret of secrets) assert.ok(!cleaned.includes(secret), `${format}: ${JSON.stringify(secret)} is gone`);
    assert.ok(cleaned.includes(pixelBytes[format]), `${format}: the image data is kept byte for byte, not re-encoded`);
    const [before, after] = await Promise.all([original, cleaned].map((bytes) => sharp(bytes, { animated: true }).raw().toBuffer()));
    assert.deepEqual(after, before, `${format}: the same pixels`);
    const meta = await sharp(cleaned, { animated: true }).metadata();
    assert.deepEqual([meta.exif, meta.xmp, meta.pages ?? 1, image?.width, image?.height], [undefined, undefined, format === 'gif' ? 2 : 1, 30, 20], format);
  }
  assert.equal(readFileSync(join(dir, 'webp.out'))[20]! & 0x0c, 0, 'the WebP header no longer announces EXIF or XMP');
  assert.ok(readFileSync(join(dir, 'gif.out')).includes('NETSCAPE2.0'), 'the GIF still loops');
});

test('a PNG that must be turned upright is re-encoded; the chunk walk never throws, whatever the bytes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-inspect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'sideways'), await sharp({ create: { width: 30, height: 20, channels: 3, background: '#333' } }).png().withMetadata({ orientation: 6 }).toBuffer());
  const image = await cleanImage(join(dir, 'sideways'), join(dir, 'upright'), 'image/png');
  const meta = await sharp(readFileSync(join(dir, 'upright'))).metadata();
  assert.deepEqual([image?.width, image?.height, meta.width, meta.height, meta.orientation], [20, 30, 20, 30, undefined]);
  const images = await taggedImages();
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const format of ['png', 'webp', 'gif'] as const) {
    const bytes = images[format];
    for (let cut = 0; cut < bytes.length; cut++) stripMetadata(format, bytes.subarray(0, cut));
    for (let i = 0; i < 2000; i++) {
      const damaged = Buffer.from(bytes);
      damaged[Math.floor(random() * damaged.length)] = Math.floor(random() * 256);
      const result = stripMetadata(format, damaged);
      assert.ok(result === undefined || result.length <= damaged.length + 12, format);
    }
  }
});

test('bytes that do not decode are just a file; an image of too many pixels is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-inspect-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).png().toBuffer();
  writeFileSync(join(dir, 'broken'), Buffer.concat([png.subarray(0, 40), Buffer.alloc(200, 7)]));
  assert.equal(await cleanImage(join(dir, 'broken'), join(dir, 'broken.out'), 'image/png'), undefined);
  writeFileSync(join(dir, 'png-as-jpeg'), png);
  assert.equal(await cleanImage(join(dir, 'png-as-jpeg'), join(dir, 'png-as-jpeg.out'), 'image/jpeg'), undefined, 'libvips must agree with the sniffed type');
  writeFileSync(join(dir, 'bomb'), await pngClaiming(8000, 6251));
  await assert.rejects(cleanImage(join(dir, 'bomb'), join(dir, 'bomb.out'), 'image/png'), new ImageRefused('image too large: at most 50 megapixels for PNG'));
  writeFileSync(join(dir, 'big.avif'), await sharp({ create: { width: 4000, height: 3001, channels: 3, background: '#000' } }).avif({ effort: 0 }).toBuffer());
  await assert.rejects(cleanImage(join(dir, 'big.avif'), join(dir, 'big.avif.out'), 'image/avif'), new ImageRefused('image too large: at most 12 megapixels for AVIF'));
});

test('display names: the last path segment, no control or bidi characters, at most 200 characters, never empty', () => {
  const cases: [string, string][] = [
    ['holiday.jpg', 'holiday.jpg'],
    ['C:\\Users\\me\\Pictures\\holiday.jpg', 'holiday.jpg'],
    ['../../etc/passwd', 'passwd'],
    ['photo\u202Egnp.exe', 'photognp.exe'],
    ['a\u2066b\u2069\u200Fc.txt', 'abc.txt'],
    ['bell\u0007\u0000and\nnew\u2028line\u0085.txt', 'bellandnewline.txt'],
    ['  lots   of \u00a0 space  .txt ', 'lots of space .txt'],
    ['e\u0301te\u0301.txt', 'été.txt'],
    ['lone \ud800 surrogate', 'lone \ufffd surrogate'],
    ['', 'file'],
    ['/', 'file'],
    ['..', 'file'],
    ['\u202E', 'file'],
    ['日本語のファイル.pdf', '日本語のファイル.pdf'],
  ];
  for (const [given, shown] of cases) assert.equal(displayName(given), shown, JSON.stringify(given));
  const long = displayName(`${'x'.repeat(300)}.jpeg`);
  assert.equal(long, `${'x'.repeat(195)}.jpeg`);
  assert.equal([...displayName('😀'.repeat(250))].length, 200, 'counted in characters, never splitting one');
});

test('only decoded images, audio, video and plain text are shown inline; every file carries the safety headers', () => {
  const inline = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'audio/mpeg', 'audio/ogg', 'video/mp4', 'video/webm', 'text/plain'];
  const attachment = ['text/html', 'image/svg+xml', 'application/xml', 'application/pdf', 'application/octet-stream', 'image/bmp', 'application/zip', 'text/calendar'];
  for (const type of inline) assert.equal(presentation(type), 'inline', type);
  for (const type of attachment) assert.equal(presentation(type), 'attachment', type);
  assert.deepEqual(fileHeaders('application/pdf', 'naïve "plan" 100%.pdf'), [
    ['Content-Type', 'application/pdf'],
    ['Content-Disposition', `attachment; filename="na_ve _plan_ 100_.pdf"; filename*=UTF-8''na%C3%AFve%20%22plan%22%20100%25.pdf`],
    ['X-Content-Type-Options', 'nosniff'],
    ['Content-Security-Policy', "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"],
    ['Cache-Control', 'private, no-cache'],
    ['Accept-Ranges', 'bytes'],
  ]);
  assert.deepEqual(fileHeaders('text/plain', 'notes.txt').slice(0, 2), [['Content-Type', 'text/plain; charset=utf-8'], ['Content-Disposition', `inline; filename="notes.txt"; filename*=UTF-8''notes.txt`]]);
});
