// Receiving an upload: multipart/form-data with one `file` part, or raw bytes with ?filename=, streamed into the store with its type sniffed and images cleaned.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import type { Response, StreamedRequest } from '../transport/http.ts';
import { BodyCut } from '../transport/body.ts';
import type { Settings } from '../config.ts';
import type { FileStore, Pending } from './store.ts';
import { imageFormat, ImageRefused, isUnstrippedImage, sampleSize, sniffType, type ImageFormat } from './inspect.ts';
import type { ImageCleaner } from './images.ts';
import type { Turn } from './fair-queue.ts';
import type { FreeSpace } from './space.ts';
import { displayName } from './headers.ts';

/** A stored file as the records keep it: where its bytes are and what they are. */
export type StoredFile = {
  /** The store's key of the bytes served (for an image: the copy without metadata). */
  readonly key: string;
  /** The display name (sanitised; never a path). */
  readonly name: string;
  readonly size: number;
  /** What the bytes are, sniffed; `application/octet-stream` when unknown or when an image did not decode. */
  readonly type: string;
  /** SHA-256 (hex) of the bytes served; also their ETag. */
  readonly sha256: string;
  readonly width?: number;
  readonly height?: number;
  /** Images only: a WebP of at most 480 × 480, in the same store. */
  readonly thumbnail?: { readonly key: string; readonly sha256: string; readonly size: number; readonly width: number; readonly height: number };
};

/**
 * An upload received: its bytes written but not yet readable, until `commit` (or gone with `discard`).
 * `metadataKept`: an image Parley could not clean, kept as it came (UNSTRIPPED_IMAGES=keep).
 */
/** `original`: for an image stored as its cleaned, re-encoded copy, the bytes that were sent (their size and SHA-256 differ from `file`'s). */
export type Received = {
  readonly file: StoredFile;
  readonly metadataKept?: true;
  readonly original?: { readonly size: number; readonly sha256: string };
  commit(): Promise<void>;
  discard(): Promise<void>;
};

export type Receiving = {
  readonly store: FileStore;
  /** A local folder for images being cleaned (sharp reads and writes files); the store's temporary folder when it is the disk. */
  readonly scratchDir: string;
  /** The largest file accepted, in bytes (MAX_UPLOAD_BYTES). */
  readonly maxBytes: number;
  readonly images: ImageCleaner;
  /** What becomes of an image Parley cannot clean of its metadata (UNSTRIPPED_IMAGES). */
  readonly unstripped: Settings['UNSTRIPPED_IMAGES'];
  /** The disks' free space that an upload must leave (FREE_SPACE_RESERVE_BYTES). */
  readonly space: FreeSpace;
};

/**
 * Room past the file's limit for a multipart body's boundaries and part headers, and for the bytes
 * already in flight when the file's own limit cuts in (a socket read, a stream buffer): so the
 * file's limit, counted exactly, is the one a client meets.
 */
export const bodyAllowance = 1024 * 1024;

/** An upload refused part-way: `response` says why. */
class Refusal extends Error {
  constructor(readonly response: Response) {
    super(String(response.body));
  }
}

const refuse = (status: number, body: string): Response => ({ status, body });
export const tooLarge = (maxBytes: number) => `file too large: the limit is ${maxBytes} bytes`;
export const howToUpload = 'send multipart/form-data with one part named "file", or the raw bytes to /files?filename=<name>';
const cleanedTypes = 'a JPEG, PNG, WebP, GIF or AVIF';
export const notCleaned = (type: string) =>
  `${type} images are not accepted: Parley cannot remove their metadata (EXIF, GPS position), so they would be shared as they are; send ${cleanedTypes}`;
export const notDecoded = (type: string) =>
  `the image does not decode as ${type}, so its metadata (EXIF, GPS position) cannot be removed; save it again as ${cleanedTypes}`;

/** Bytes an upload receives between two looks at the free space. */
const spaceCheckBytes = 1024 * 1024;

/** `source`, refused with 413 as soon as more than `max` bytes have come, and with 507 once the disks' free space is down to the reserve. */
async function* limited(source: AsyncIterable<Uint8Array>, max: number, space: FreeSpace): AsyncGenerator<Uint8Array> {
  let size = 0;
  let checked = 0;
  for await (const chunk of source) {
    size += chunk.byteLength;
    if (size > max) throw new Refusal(refuse(413, tooLarge(max)));
    if (size - checked >= spaceCheckBytes) {
      const full = await space.refusal(0, size - checked);
      checked = size;
      if (full) throw new Refusal(full);
    }
    yield chunk;
  }
}

/** A multipart part's bytes: the parser's errors (a body that ends mid-part) refuse the upload; a hang-up stays what it is. */
async function* partBytes(stream: Readable): AsyncGenerator<Uint8Array> {
  try {
    yield* stream;
  } catch (error) {
    if (error instanceof BodyCut) throw error;
    throw new Refusal(refuse(400, `malformed multipart body: ${(error as Error).message}`));
  }
}

/** Both writes commit, or both are discarded. */
function together(first: Pending, second: Pending | undefined): Pick<Received, 'commit' | 'discard'> {
  return {
    async commit() {
      await second?.commit();
      await first.commit();
    },
    async discard() {
      await Promise.all([first.discard(), second?.discard()]);
    },
  };
}

/** Stores the bytes as they came: an unknown file, or an image that Parley could not clean, kept (UNSTRIPPED_IMAGES=keep) with what it carries. */
async function storeAsIs(bytes: AsyncIterable<Uint8Array>, name: string, type: string, store: FileStore, metadataKept: boolean): Promise<Received> {
  const pending = await store.put(bytes);
  const file = { key: pending.key, name, size: pending.size, type, sha256: pending.sha256 };
  return { file, ...(metadataKept ? { metadataKept } : {}), ...together(pending, undefined) };
}

/**
 * An image goes through a scratch file: decoded, stripped, thumbnailed in a worker (images.ts), when
 * its turn comes, and only the clean copy is stored. Bytes that do not decode as their type are
 * refused, or kept as an unknown file (UNSTRIPPED_IMAGES).
 */
async function storeImage(bytes: AsyncIterable<Uint8Array>, name: string, type: string, limits: ImageFormat, receiving: Receiving, turn: Turn): Promise<Received | Response> {
  const { store, scratchDir } = receiving;
  const original = join(scratchDir, store.temporaryName('.upload'));
  const cleaned = `${original}.clean`;
  try {
    const sent = createHash('sha256');
    let sentSize = 0;
    await pipeline(Readable.from(bytes), async function* (chunks: AsyncIterable<Uint8Array>) {
      for await (const chunk of chunks) {
        sent.update(chunk);
        sentSize += chunk.byteLength;
        yield chunk;
      }
    }, createWriteStream(original, { flags: 'wx', mode: 0o600 }));
    const image = await receiving.images.clean(original, cleaned, limits, turn);
    if (!image) {
      if (receiving.unstripped === 'refuse') return refuse(400, notDecoded(type));
      return await storeAsIs(createReadStream(original), name, 'application/octet-stream', store, true);
    }
    const pending = await store.put(createReadStream(cleaned));
    const thumbnail = await store.put(Readable.from([image.thumbnail.data])).catch(async (error: unknown) => {
      await pending.discard();
      throw error;
    });
    const file: StoredFile = {
      key: pending.key, name, size: pending.size, type, sha256: pending.sha256, width: image.width, height: image.height,
      thumbnail: { key: thumbnail.key, sha256: thumbnail.sha256, size: thumbnail.size, width: image.thumbnail.width, height: image.thumbnail.height },
    };
    return { file, original: { size: sentSize, sha256: sent.digest('hex') }, ...together(pending, thumbnail) };
  } finally {
    await Promise.all([rm(original, { force: true }), rm(cleaned, { force: true })]);
  }
}

/** Sniffs the first bytes, then streams the whole file to the store (images by way of their cleaning). */
async function ingest(source: AsyncIterable<Uint8Array>, givenName: string, receiving: Receiving, turn: Turn): Promise<Received | Response> {
  const iterator = limited(source, receiving.maxBytes, receiving.space)[Symbol.asyncIterator]();
  const name = displayName(givenName);
  try {
    const start: Uint8Array[] = [];
    let have = 0;
    while (have < sampleSize) {
      const next = await iterator.next();
      if (next.done) break;
      start.push(next.value);
      have += next.value.byteLength;
    }
    const head = Buffer.concat(start);
    const type = await sniffType(head.subarray(0, sampleSize));
    const bytes = (async function* () {
      if (head.byteLength) yield head;
      yield* { [Symbol.asyncIterator]: () => iterator };
    })();
    const limits = imageFormat(type);
    if (limits) return await storeImage(bytes, name, type, limits, receiving, turn);
    const unstripped = isUnstrippedImage(type);
    // Refused before a byte more is read, so nothing of it is ever written.
    if (unstripped && receiving.unstripped === 'refuse') throw new Refusal(refuse(415, notCleaned(type)));
    return await storeAsIs(bytes, name, type, receiving.store, unstripped);
  } catch (error) {
    await iterator.return(undefined); // stops reading the body
    if (error instanceof Refusal) return error.response;
    if (error instanceof ImageRefused) return refuse(400, error.message);
    throw error;
  }
}

type Part = { kind: 'file'; stream: Readable; filename: string } | { kind: 'other' } | { kind: 'failed'; error: Error };

/** Why a multipart body is refused, or the error that ended it (the client went away: nobody to answer). */
function refusal(failure: Error | undefined): Response {
  if (failure instanceof BodyCut) throw failure;
  if (failure) return refuse(400, `malformed multipart body: ${failure.message}`);
  return refuse(400, `the multipart body must hold one part, named "file": ${howToUpload}`);
}

/**
 * The one part named `file` of a multipart body, streamed into the store. Any other part (a field,
 * a second file, a file under another name) refuses the upload; so does a body that ends early.
 */
async function ingestMultipart(request: StreamedRequest, receiving: Receiving, turn: Turn): Promise<Received | Response> {
  let parser;
  try {
    // Two parts at most are parsed (a second one refuses the upload; any further are skipped unread), a field's value at most 1 KiB.
    parser = busboy({ headers: { 'content-type': request.headers['content-type'] }, limits: { parts: 2, fieldSize: 1024 } });
  } catch (error) {
    return refusal(error as Error);
  }
  let parts = 0;
  const parsed = pipeline(request.body, parser).then(() => undefined, (error: Error) => error);
  const part = await new Promise<Part>((resolve) => {
    parser.on('file', (field, stream, info) => {
      // A body that ends mid-part fails the part's stream, perhaps before anyone reads it (the reader sees it then).
      stream.on('error', () => {});
      if (++parts === 1 && field === 'file') return resolve({ kind: 'file', stream, filename: info.filename ?? '' });
      stream.resume();
      resolve({ kind: 'other' });
    });
    parser.on('field', () => {
      parts++;
      resolve({ kind: 'other' }); // a field first refuses the upload; after the file it is counted (promise already settled)
    });
    void parsed.then((error) => resolve(error ? { kind: 'failed', error } : { kind: 'other' }));
  });
  if (part.kind !== 'file') return refusal(part.kind === 'failed' ? part.error : undefined);
  const received = await ingest(partBytes(part.stream), part.filename, receiving, turn);
  if ('status' in received) return received; // refused mid-file: the rest of the body is not read
  const failure = await parsed; // reads to the end: only then is it known that no other part follows
  if (!failure && parts === 1) return received;
  await received.discard();
  return refusal(failure);
}

/** Reads the upload in `request` into the store: a file not yet readable, or the answer that refuses it. `turn`: whose image work it is. */
export async function receiveUpload(request: StreamedRequest, receiving: Receiving, turn: Turn): Promise<Received | Response> {
  const declared = Number(request.headers['content-length'] ?? 0);
  const full = await receiving.space.refusal(Math.min(declared, receiving.maxBytes));
  if (full) return full;
  if (/^multipart\/form-data\b/i.test(request.headers['content-type'] ?? '')) return ingestMultipart(request, receiving, turn);
  const filename = request.query.get('filename');
  if (!filename) return refuse(400, `filename required: ${howToUpload}`);
  if (declared > receiving.maxBytes) return refuse(413, tooLarge(receiving.maxBytes));
  return ingest(request.body, filename, receiving, turn);
}
