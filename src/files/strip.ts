// Metadata taken out of PNG, WebP and GIF without decoding them: the chunks and blocks that carry EXIF, XMP and text
// are dropped and every other byte is kept as it was. Re-encoding these formats costs seconds to a minute of a core
// for a large image; walking their chunks costs nothing.

/** PNG chunks that draw the image (pixels, palette, transparency, colour, animation); every other one is dropped. */
const pngKept = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND', 'tRNS', 'cHRM', 'gAMA', 'iCCP', 'sBIT', 'sRGB', 'cICP', 'mDCV', 'cLLI', 'bKGD', 'pHYs', 'acTL', 'fcTL', 'fdAT']);
const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function stripPng(bytes: Buffer): Buffer | undefined {
  if (!bytes.subarray(0, 8).equals(pngSignature)) return undefined;
  const kept: Buffer[] = [pngSignature];
  for (let at = 8; at + 12 <= bytes.length;) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const end = at + 12 + length;
    if (end > bytes.length) return undefined;
    // A chunk whose name starts upper-case is critical: one Parley does not know may be needed to draw the image.
    if (pngKept.has(type)) kept.push(bytes.subarray(at, end));
    else if (/^[A-Z]/.test(type)) return undefined;
    if (type === 'IEND') return Buffer.concat(kept); // anything after the end (an appended archive) goes too
    at = end;
  }
  return undefined;
}

/** WebP chunks that draw the image; EXIF, XMP and anything unknown are dropped. */
const webpKept = new Set(['VP8 ', 'VP8L', 'VP8X', 'ALPH', 'ANIM', 'ANMF', 'ICCP']);

function stripWebp(bytes: Buffer): Buffer | undefined {
  if (bytes.length < 12 || bytes.toString('latin1', 0, 4) !== 'RIFF' || bytes.toString('latin1', 8, 12) !== 'WEBP') return undefined;
  const end = Math.min(bytes.length, 8 + bytes.readUInt32LE(4));
  const kept: Buffer[] = [];
  for (let at = 12; at < end;) {
    if (at + 8 > end) return undefined;
    const type = bytes.toString('latin1', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    const next = at + 8 + size + (size % 2); // chunks are padded to an even size
    if (at + 8 + size > end) return undefined;
    if (webpKept.has(type)) {
      const chunk = Buffer.from(bytes.subarray(at, Math.min(next, end)));
      if (type === 'VP8X' && size >= 1) chunk[8] = chunk[8]! & ~0x0c; // the header no longer announces EXIF (0x08) or XMP (0x04)
      kept.push(chunk);
    }
    at = next;
  }
  const body = Buffer.concat(kept);
  const header = Buffer.alloc(12);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(body.length + 4, 4);
  header.write('WEBP', 8, 'latin1');
  return Buffer.concat([header, body]);
}

/** The end of a run of GIF data sub-blocks starting at `at` (after its zero terminator), or undefined past the end. */
function subBlocksEnd(bytes: Buffer, at: number): number | undefined {
  while (at < bytes.length) {
    const size = bytes[at]!;
    at += 1 + size;
    if (size === 0) return at;
  }
  return undefined;
}

/** GIF application extensions that only say how an animation loops. */
const gifLoops = new Set(['NETSCAPE2.0', 'ANIMEXTS1.0']);

function stripGif(bytes: Buffer): Buffer | undefined {
  const version = bytes.toString('latin1', 0, 6);
  if ((version !== 'GIF87a' && version !== 'GIF89a') || bytes.length < 13) return undefined;
  const globalTable = bytes[10]! & 0x80 ? 3 * 2 ** ((bytes[10]! & 0x07) + 1) : 0;
  const kept: Buffer[] = [bytes.subarray(0, 13 + globalTable)];
  for (let at = 13 + globalTable; at < bytes.length;) {
    const introducer = bytes[at]!;
    if (introducer === 0x3b) return Buffer.concat([...kept, bytes.subarray(at, at + 1)]); // the trailer; anything after it goes
    let end: number | undefined;
    let keep = true;
    if (introducer === 0x2c) {
      // An image: its descriptor (9 bytes), a local colour table, the LZW code size, then its data.
      if (at + 11 > bytes.length) return undefined;
      const localTable = bytes[at + 9]! & 0x80 ? 3 * 2 ** ((bytes[at + 9]! & 0x07) + 1) : 0;
      end = subBlocksEnd(bytes, at + 10 + localTable + 1);
    } else if (introducer === 0x21 && at + 2 < bytes.length) {
      const label = bytes[at + 1]!;
      end = subBlocksEnd(bytes, at + 2);
      // Graphic control (timing, transparency) and the loop count are kept; comments, XMP and other applications' data are not.
      keep = label === 0xf9 || (label === 0xff && bytes[at + 2] === 11 && gifLoops.has(bytes.toString('latin1', at + 3, at + 14)));
    }
    if (end === undefined || end > bytes.length) return undefined;
    if (keep) kept.push(bytes.subarray(at, end));
    at = end;
  }
  return undefined;
}

/**
 * The same image without its metadata, or undefined when the bytes do not walk as `format`
 * expects (then the image is re-encoded instead).
 */
export function stripMetadata(format: 'png' | 'webp' | 'gif', bytes: Buffer): Buffer | undefined {
  if (format === 'png') return stripPng(bytes);
  if (format === 'webp') return stripWebp(bytes);
  return stripGif(bytes);
}
