// Images Parley cannot clean of their metadata (HEIC, TIFF, bytes that do not decode): refused by default, or kept as they came and flagged, as UNSTRIPPED_IMAGES says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { startFilesApp, type FilesApp } from './helpers/files-app.ts';
import { exchange, onDisk } from './helpers/bytes.ts';
import { animatedPng } from './helpers/images.ts';
import { readSettings } from '../src/config.ts';

const alice = { cookie: 'user=alice' };
const exif = { IFD0: { Artist: 'Alice at home' }, IFD3: { GPSMapDatum: 'WGS-84', GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100' } };
const xmp = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.4N"/></rdf:RDF></x:xmpmeta>';
const picture = () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#4a7' } });

/** A HEIC as a phone writes it, as far as anyone reading it can tell: a HEIF whose brand is `heic`, with EXIF (author, GPS). */
async function heic(): Promise<Buffer> {
  const bytes = Buffer.from(await picture().avif().withExifMerge(exif).toBuffer());
  const ftypEnd = bytes.readUInt32BE(0);
  for (let at = 8; at < ftypEnd; at += 4) if (bytes.toString('latin1', at, at + 4) === 'avif') bytes.write('heic', at, 'latin1');
  return bytes;
}

/** A TIFF with XMP carrying a GPS latitude. */
const tiff = () => picture().tiff().withMetadata().withXmp(xmp).toBuffer();

/** A PNG that begins as one and then is not (so libvips cannot decode it), with EXIF-like text in it. */
async function brokenPng(): Promise<Buffer> {
  const png = await picture().png().toBuffer();
  return Buffer.concat([png.subarray(0, 40), Buffer.from('GPSLatitude 48,51.4N WGS-84'), Buffer.alloc(200, 7)]);
}

/** A one-frame animated PNG with a text chunk naming where it was taken. */
const apng = async () => animatedPng(await picture().png().toBuffer(), 64, 48, 'Location', 'GPSLatitude 48,51.4N');

async function app(t: { after(fn: () => void): void }, env: Record<string, string> = {}): Promise<FilesApp> {
  const started = await startFilesApp(env);
  t.after(() => started.close());
  return started;
}
const upload = (files: FilesApp, body: Buffer, name: string) => exchange(files.base, 'POST', `/files?filename=${name}`, { body, headers: alice });

test('UNSTRIPPED_IMAGES=refuse (the default): a HEIC or a TIFF is refused with 415 before it is stored, an image that does not decode with 400', async (t) => {
  const files = await app(t);
  for (const [bytes, name, type] of [[await heic(), 'IMG_0001.HEIC', 'image/heic'], [await tiff(), 'scan.tiff', 'image/tiff']] as const) {
    const refused = await upload(files, bytes, name);
    assert.deepEqual([refused.status, refused.body.toString()],
      [415, `${type} images are not accepted: Parley cannot remove their metadata (EXIF, GPS position), so they would be shared as they are; send a JPEG, PNG, WebP, GIF or AVIF`]);
  }
  const broken = await upload(files, await brokenPng(), 'broken.png');
  assert.deepEqual([broken.status, broken.body.toString()],
    [400, 'the image does not decode as image/png, so its metadata (EXIF, GPS position) cannot be removed; save it again as a JPEG, PNG, WebP, GIF or AVIF']);
  assert.deepEqual([files.uploads.size, onDisk(files.filesDir)], [0, { stored: [], temporary: [] }]);
});

test('UNSTRIPPED_IMAGES=keep: they are stored as they came, with their GPS position, and the reply says so (metadata_kept)', async (t) => {
  const files = await app(t, { UNSTRIPPED_IMAGES: 'keep' });
  const cases = [[await heic(), 'IMG_0001.HEIC', 'image/heic', 'WGS-84'], [await tiff(), 'scan.tiff', 'image/tiff', 'GPSLatitude'], [await brokenPng(), 'broken.png', 'application/octet-stream', 'WGS-84']] as const;
  for (const [bytes, name, type, secret] of cases) {
    const kept = await upload(files, bytes, name);
    assert.equal(kept.status, 201, kept.body.toString());
    const reply = JSON.parse(kept.body.toString());
    assert.deepEqual([reply.type, reply.size, reply.metadata_kept, reply.width], [type, bytes.length, true, undefined], name);
    const served = await exchange(files.base, 'GET', `/files/${reply.id}`, { headers: alice });
    assert.ok(served.body.equals(bytes), `${name} is served byte for byte`);
    assert.ok(served.body.includes(secret), `${name} still carries ${secret}`);
    assert.match(String(served.headers['content-disposition']), /^attachment;/);
  }
});

test('an animated PNG is a PNG: cleaned of its text, still animated, never flagged', async (t) => {
  for (const choice of ['refuse', 'keep']) {
    const files = await app(t, { UNSTRIPPED_IMAGES: choice });
    const bytes = await apng();
    const cleaned = await upload(files, bytes, 'wave.png');
    const reply = JSON.parse(cleaned.body.toString());
    const served = await exchange(files.base, 'GET', `/files/${reply.id}`, { headers: alice });
    assert.deepEqual([cleaned.status, reply.type, reply.width, reply.height, reply.metadata_kept], [201, 'image/apng', 64, 48, undefined], choice);
    assert.ok(!served.body.includes('GPSLatitude') && served.body.includes('acTL'), choice);
  }
});

test('UNSTRIPPED_IMAGES takes refuse or keep', () => {
  assert.equal(readSettings({}).UNSTRIPPED_IMAGES, 'refuse');
  assert.equal(readSettings({ UNSTRIPPED_IMAGES: 'KEEP' }).UNSTRIPPED_IMAGES, 'keep');
  assert.throws(() => readSettings({ UNSTRIPPED_IMAGES: 'strip' }), { message: /UNSTRIPPED_IMAGES must be one of refuse, keep/ });
});
