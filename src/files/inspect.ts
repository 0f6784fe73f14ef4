// What an uploaded file is: its type from its bytes (never the client's word), and for images their size, a thumbnail and a copy without metadata.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import { stripMetadata } from './strip.ts';
import { limits } from '../../protocol/index.ts';

/** Bytes of a file's start that decide its type (what file-type reads for most formats). */
export const sampleSize = 4100;

/** The image types Parley decodes, with the name sharp gives each format. */
const imageFormats: Readonly<Record<string, string>> = {
  'image/jpeg': 'jpeg', 'image/png': 'png', 'image/webp': 'webp', 'image/gif': 'gif', 'image/avif': 'heif',
};
export const isImageType = (type: string) => Object.hasOwn(imageFormats, type);

/**
 * Above this many pixels (all frames of an animation counted) an image is refused rather than
 * decoded: a small file can hold a huge image. 50 megapixels is a phone's full-resolution photo;
 * cleaning one costs up to a couple of seconds and 200 MiB.
 */
export const maxImagePixels = 50_000_000;
/** AVIF is re-encoded, which costs far more (a 12-megapixel one: up to 6 s of a core and 370 MiB): a lower ceiling. */
export const maxAvifPixels = 12_000_000;
/** PNG, WebP and GIF files up to this size are cleaned in memory, without decoding; larger ones are re-encoded. */
const strippedInMemory = 64 * 1024 * 1024;
/** Thumbnails fit in this square (a chat bubble at twice its CSS size), as WebP, first frame only. */
export const thumbnailSide = limits.thumbnailSide;
export const thumbnailType = 'image/webp';

const whitespace = new Set([0x09, 0x0a, 0x0c, 0x0d, 0x20]);
/** Markup a browser would take for HTML (WHATWG MIME sniffing), each followed by a space or `>`. */
const htmlTags = ['<!doctype html', '<html', '<head', '<script', '<iframe', '<h1', '<div', '<font', '<table', '<a', '<style', '<title', '<b', '<body', '<br', '<p'];
/** Bytes that never occur in text (WHATWG MIME sniffing's "binary data bytes"). */
const isBinaryByte = (byte: number) => byte <= 0x08 || byte === 0x0b || (byte >= 0x0e && byte <= 0x1a) || (byte >= 0x1c && byte <= 0x1f);

/** Text formats file-type leaves to others: markup a browser would render, else plain text, else unknown bytes. */
function sniffText(head: Uint8Array): string {
  let at = 0;
  while (at < head.length && whitespace.has(head[at]!)) at++;
  const start = Buffer.from(head.subarray(at, at + 512)).toString('latin1').toLowerCase();
  if (start.startsWith('<?xml')) return /<svg[\s>]/.test(start) ? 'image/svg+xml' : 'application/xml';
  if (/^<svg[\s>]/.test(start)) return 'image/svg+xml';
  if (start.startsWith('<!--') || htmlTags.some((tag) => start.startsWith(tag) && /^[\s>]/.test(start.slice(tag.length)))) return 'text/html';
  return head.some(isBinaryByte) ? 'application/octet-stream' : 'text/plain';
}

/** The type of a file from its first `sampleSize` bytes. */
export async function sniffType(head: Uint8Array): Promise<string> {
  const found = await fileTypeFromBuffer(head);
  if (found?.mime === 'application/xml') return sniffText(head) === 'image/svg+xml' ? 'image/svg+xml' : found.mime;
  return found?.mime ?? sniffText(head);
}

/** An image that is too large to decode safely: refused, since what it carries could not be removed. */
export class ImageTooLarge extends Error {
  constructor(readonly pixels: number, limit: number) {
    super(`image too large: at most ${limit / 1_000_000} megapixels${limit === maxAvifPixels ? ' for AVIF' : ''}`);
    this.name = 'ImageTooLarge';
  }
}

export type CleanImage = {
  readonly width: number;
  readonly height: number;
  readonly thumbnail: { readonly data: Buffer; readonly width: number; readonly height: number };
};

/** Images are decoded one at a time: each takes a core or two for a moment, and the chat needs the rest. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Decodes the image at `input` (sniffed as `type`) and writes to `output` the same image in the same
 * format without its metadata: no EXIF (GPS position, camera, time), XMP, IPTC, text or comments;
 * only the pixels, upright, with their colour profile and every frame of an animation. Answers its
 * size and a thumbnail, or undefined when the bytes do not decode as that format (then it is just a
 * file). Throws ImageTooLarge above `maxImagePixels`.
 *
 * JPEG is re-encoded (turned upright by its EXIF orientation first; quality 90, streamed line by
 * line). PNG, WebP and GIF keep their bytes, without the chunks that carry metadata (stripMetadata):
 * re-encoding them is slow, and lossy for WebP; only one with an orientation to apply, or that does
 * not walk cleanly, is re-encoded. AVIF is re-encoded at the encoder's fastest setting, up to
 * `maxAvifPixels`.
 */
export function cleanImage(input: string, output: string, type: string): Promise<CleanImage | undefined> {
  const turn = queue.then(() => decode(input, output, type));
  queue = turn.catch(() => {});
  return turn;
}

async function reencode(input: string, output: string, format: string): Promise<void> {
  const clean = sharp(input, { autoOrient: true, limitInputPixels: maxImagePixels, failOn: 'error', animated: true }).keepIccProfile();
  // Without optimised coding a JPEG is written as it is decoded, in a few MiB, instead of held whole.
  if (format === 'jpeg') await clean.jpeg({ quality: 90, optimiseCoding: false }).toFile(output);
  else if (format === 'png') await clean.png().toFile(output);
  else if (format === 'webp') await clean.webp({ quality: 90 }).toFile(output);
  else if (format === 'gif') await clean.gif().toFile(output);
  else await clean.avif({ quality: 70, effort: 0 }).toFile(output);
}

async function decode(input: string, output: string, type: string): Promise<CleanImage | undefined> {
  const format = imageFormats[type];
  let meta;
  try {
    meta = await sharp(input, { animated: true, limitInputPixels: false }).metadata();
  } catch {
    return undefined;
  }
  // file-type and libvips each read the header; a file that one takes for a PNG and the other for something else is not an image.
  if (meta.format !== format || !meta.width || !meta.height) return undefined;
  const pixels = meta.width * meta.height;
  const limit = format === 'heif' ? maxAvifPixels : maxImagePixels;
  if (pixels > limit) throw new ImageTooLarge(pixels, limit);
  const orientation = meta.orientation ?? 1;
  try {
    const strippable = (format === 'png' || format === 'webp' || format === 'gif') && orientation === 1 && (await stat(input)).size <= strippedInMemory;
    const stripped = strippable ? stripMetadata(format, await readFile(input)) : undefined;
    if (stripped) await writeFile(output, stripped, { flag: 'wx', mode: 0o600 });
    else await reencode(input, output, format!);
    const thumbnail = await sharp(output, { autoOrient: true, limitInputPixels: maxImagePixels, failOn: 'error' })
      .resize(thumbnailSide, thumbnailSide, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 70 })
      .toBuffer({ resolveWithObject: true });
    const frameHeight = meta.pageHeight ?? meta.height;
    const quarterTurn = orientation >= 5; // EXIF orientations 5–8 turn the image a quarter
    return {
      width: quarterTurn ? frameHeight : meta.width,
      height: quarterTurn ? meta.width : frameHeight,
      thumbnail: { data: thumbnail.data, width: thumbnail.info.width, height: thumbnail.info.height },
    };
  } catch {
    return undefined;
  }
}
