// Real images made for tests: a phone-like JPEG carrying a GPS position, a PNG whose header claims a huge size, and PNGs with added chunks.
import sharp from 'sharp';

/**
 * A JPEG as a phone writes it: EXIF with the author and a GPS block (its datum `WGS-84` readable in
 * the bytes), XMP with a GPS latitude, and orientation 6 (stored sideways, shown upright).
 */
export function gpsJpeg(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#4a7' } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExifMerge({ IFD0: { Artist: 'Alice at home' }, IFD3: { GPSMapDatum: 'WGS-84', GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100' } })
    .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.4N"/></rdf:RDF></x:xmpmeta>')
    .toBuffer();
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A small real PNG whose IHDR (with a valid CRC) claims `width` × `height`: a decompression bomb's header. */
export async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).png().toBuffer());
  // The signature (8 bytes), then IHDR: length (4), type (4), width (4), height (4), …, CRC over type and data.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * `png` made a one-frame animated PNG (acTL and fcTL before its image, as file-type tells an APNG)
 * with a tEXt chunk (`keyword`, `text`) among them.
 */
export function animatedPng(png: Buffer, width: number, height: number, keyword: string, text: string): Buffer {
  const afterHeader = 8 + 25;
  const control = Buffer.alloc(8);
  control.writeUInt32BE(1, 0); // one frame, looping forever
  const frame = Buffer.alloc(26); // sequence 0, the whole canvas, a tenth of a second
  frame.writeUInt32BE(width, 4);
  frame.writeUInt32BE(height, 8);
  frame.writeUInt16BE(1, 20);
  frame.writeUInt16BE(10, 22);
  const textChunk = pngChunk('tEXt', Buffer.from(`${keyword}\0${text}`, 'latin1'));
  return Buffer.concat([png.subarray(0, afterHeader), pngChunk('acTL', control), pngChunk('fcTL', frame), textChunk, png.subarray(afterHeader)]);
}

/** `png` with a tEXt chunk (`keyword`, `text`) after its header, and `appended` after its end (as a polyglot carries an archive). */
export function withPngText(png: Buffer, keyword: string, text: string, appended: Buffer): Buffer {
  const afterHeader = 8 + 25; // the signature, then IHDR: 4 + 4 + 13 + 4 bytes
  return Buffer.concat([png.subarray(0, afterHeader), pngChunk('tEXt', Buffer.from(`${keyword}\0${text}`, 'latin1')), png.subarray(afterHeader), appended]);
}

/** `gif` with a comment extension and an XMP application extension before its first block. */
export function withGifComments(gif: Buffer, comment: string, xmp: string): Buffer {
  const globalTable = gif[10]! & 0x80 ? 3 * 2 ** ((gif[10]! & 0x07) + 1) : 0;
  const at = 13 + globalTable;
  const subBlocks = (data: Buffer) => Buffer.concat([...Array.from({ length: Math.ceil(data.length / 255) }, (_, i) => {
    const piece = data.subarray(i * 255, (i + 1) * 255);
    return Buffer.concat([Buffer.from([piece.length]), piece]);
  }), Buffer.from([0])]);
  const commentBlock = Buffer.concat([Buffer.from([0x21, 0xfe]), subBlocks(Buffer.from(comment, 'latin1'))]);
  const xmpBlock = Buffer.concat([Buffer.from([0x21, 0xff, 11]), Buffer.from('XMP DataXMP', 'latin1'), subBlocks(Buffer.from(xmp, 'latin1'))]);
  return Buffer.concat([gif.subarray(0, at), commentBlock, xmpBlock, gif.subarray(at)]);
}
