// What an uploaded file is: its type from its bytes (never the client's word), and for images the limits within which Parley cleans them.
import { fileTypeFromBuffer } from 'file-type';
import { limits } from '../../protocol/index.ts';

/** Bytes of a file's start that decide its type (what file-type reads for most formats). */
export const sampleSize = 4100;

/** What Parley does with one image format: libvips' name for it, and how much of it Parley decodes. */
export type ImageFormat = {
  /** The format as sharp names it (AVIF is `heif`). */
  readonly format: 'jpeg' | 'png' | 'webp' | 'gif' | 'heif';
  /** The format as the uploader knows it, in refusals. */
  readonly name: string;
  /** Above this many pixels (all frames of an animation counted) an image is refused before it is decoded: a small file can hold a huge image. */
  readonly maxPixels: number;
  /** Cleaning one (decoding, re-encoding or stripping, and the thumbnail) is stopped after this many seconds, and the image refused. */
  readonly seconds: number;
};

/**
 * The image types Parley decodes, and its limits for each, measured on a 2-core machine with the
 * costliest images that pass (random pixels, which compress worst): a 50-megapixel JPEG is cleaned
 * in about 1 s, a 12-megapixel PNG or WebP in 0.4–0.5 s. AVIF is re-encoded, which costs far more
 * (a 12-megapixel photo of noise: 6.6 s; a one-colour 3400 × 3400 one of 570 bytes: 1.5 s): a lower
 * pixel ceiling and more time. An animated PNG (`image/apng`) is a PNG.
 */
const imageFormats: Readonly<Record<string, ImageFormat>> = {
  'image/jpeg': { format: 'jpeg', name: 'JPEG', maxPixels: 50_000_000, seconds: 10 },
  'image/png': { format: 'png', name: 'PNG', maxPixels: 50_000_000, seconds: 10 },
  'image/apng': { format: 'png', name: 'PNG', maxPixels: 50_000_000, seconds: 10 },
  'image/webp': { format: 'webp', name: 'WebP', maxPixels: 50_000_000, seconds: 10 },
  'image/gif': { format: 'gif', name: 'GIF', maxPixels: 50_000_000, seconds: 10 },
  'image/avif': { format: 'heif', name: 'AVIF', maxPixels: 12_000_000, seconds: 15 },
};
export const isImageType = (type: string) => Object.hasOwn(imageFormats, type);
export const imageFormat = (type: string): ImageFormat | undefined => (Object.hasOwn(imageFormats, type) ? imageFormats[type] : undefined);

/**
 * An image Parley does not clean: a type it does not decode (HEIC, TIFF and camera raw, JPEG XL,
 * JPEG 2000, PSD…), whose EXIF, GPS position and XMP would be served as they came. SVG is a
 * document rather than a photo (and is only ever downloaded).
 */
export const isUnstrippedImage = (type: string) => type.startsWith('image/') && type !== 'image/svg+xml' && !isImageType(type);

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

/** An image beyond its format's limits: refused, since what it carries could not be removed. */
export class ImageRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageRefused';
  }
}

export const tooManyPixels = (image: ImageFormat) => `image too large: at most ${image.maxPixels / 1_000_000} megapixels for ${image.name}`;
export const tooSlow = (image: ImageFormat) => `image too slow to decode: ${image.name} images may take at most ${image.seconds} s`;

export type CleanImage = {
  readonly width: number;
  readonly height: number;
  readonly thumbnail: { readonly data: Buffer; readonly width: number; readonly height: number };
};
