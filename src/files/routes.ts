// The file routes (POST /files, GET /files/:id, GET /files/:id/thumbnail) over a store and a small records interface that decides who may do what.
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import type { RequestHead, Response, Routes, StreamedRequest, StreamedRoute } from '../transport/http.ts';
import type { FileStore } from './store.ts';
import type { FreeSpace } from './space.ts';
import { bodyAllowance, receiveUpload, tooLarge, type Received, type StoredFile } from './upload.ts';
import { imageCleaner } from './images.ts';
import { notFound, serveFile } from './download.ts';

/**
 * Who may upload and download, and where uploads are recorded: the database's side of files.
 * Every method may refuse with a Response (401 without a valid cookie, 429 past a rate limit,
 * 413 past a quota), which is sent as it is.
 */
export interface FileRecords<Uploader> {
  /** Called before a byte of the body is read: who is uploading, or why they may not. */
  authorizeUpload(request: RequestHead): Promise<{ readonly uploader: Uploader } | { readonly refuse: Response }>;
  /**
   * Records a received file for `uploader` and answers the id clients will use. The bytes become
   * readable in the store just after this (and are removed if it refuses or throws), so a record
   * never outlives a failed upload unnoticed: if committing fails, the request fails with 500 and
   * the record stays unattached (to be swept like any unattached upload).
   */
  recordUpload(uploader: Uploader, file: StoredFile): Promise<{ readonly id: string } | { readonly refuse: Response }>;
  /** Called once for every upload `authorizeUpload` let through, when it has ended, however it ended (recorded, refused, cut off, or the client gone). */
  uploadEnded(uploader: Uploader): void;
  /**
   * The file `id` names, when the caller may download it; undefined otherwise, whether or not it
   * exists (both are 404). A refusal that says nothing of the file (no valid cookie: 401) is sent as it is.
   */
  authorizeDownload(id: string, request: RequestHead): Promise<StoredFile | { readonly refuse: Response } | undefined>;
}

export type FileRouteParts<Uploader> = {
  readonly store: FileStore;
  readonly records: FileRecords<Uploader>;
  /** Local folder for images being cleaned (for the disk store: `temporaryFolder(FILES_DIR)`). */
  readonly scratchDir: string;
  /** MAX_UPLOAD_BYTES. */
  readonly maxBytes: number;
  /** UNSTRIPPED_IMAGES; `refuse` when not given. */
  readonly unstripped?: Settings['UNSTRIPPED_IMAGES'];
  /** The disks' free space that uploads must leave (FREE_SPACE_RESERVE_BYTES): freeSpace in space.ts. */
  readonly space: FreeSpace;
  readonly log: Logger;
};


/**
 * The JSON a successful upload answers (201), as the issue specifies: no store keys, no thumbnail
 * internals; `metadata_kept: true` for an image kept with its metadata (UNSTRIPPED_IMAGES=keep), so
 * the client can tell its user; for an image stored as its cleaned copy, `received`: the size and
 * SHA-256 of the bytes sent, so that a client can check its upload against what it holds.
 */
export function uploadReply(id: string, received: Pick<Received, 'file' | 'metadataKept' | 'original'>) {
  const { name, size, type, sha256, width, height } = received.file;
  return {
    id, name, size, type, sha256, ...(width === undefined ? {} : { width, height }),
    ...(received.original ? { received: received.original } : {}),
    ...(received.metadataKept ? { metadata_kept: true } : {}),
  };
}

/**
 * An upload route (POST /files, and a webhook's POST /hooks/:id/:secret/files): the body received, checked
 * and stored as `parts` say, recorded by `parts.records`. `Uploader.id` names the account whose turn an
 * image is, beside the request's address.
 */
export function uploadRoute<Uploader extends { readonly id: number | string }>(parts: FileRouteParts<Uploader>): StreamedRoute {
  const { store, records } = parts;
  const receiving = { store, scratchDir: parts.scratchDir, maxBytes: parts.maxBytes, images: imageCleaner(), unstripped: parts.unstripped ?? 'refuse', space: parts.space };

  async function upload(request: StreamedRequest): Promise<Response> {
    const who = await records.authorizeUpload(request);
    if ('refuse' in who) return who.refuse;
    try {
      return await receive(request, who.uploader);
    } finally {
      records.uploadEnded(who.uploader);
    }
  }

  async function receive(request: StreamedRequest, uploader: Uploader): Promise<Response> {
    const received = await receiveUpload(request, receiving, { account: String(uploader.id), address: request.ip, signal: request.gone });
    if ('status' in received) return received;
    let recorded;
    try {
      recorded = await records.recordUpload(uploader, received.file);
    } catch (error) {
      await received.discard();
      throw error;
    }
    if ('refuse' in recorded) {
      await received.discard();
      return recorded.refuse;
    }
    await received.commit();
    const reply = uploadReply(recorded.id, received);
    return { status: 201, body: JSON.stringify(reply), headers: [['Content-Type', 'application/json'], ['Location', `/files/${encodeURIComponent(recorded.id)}`]] };
  }

  return { bodyLimit: parts.maxBytes + bodyAllowance, tooLarge: tooLarge(parts.maxBytes), run: upload };
}

export function fileRoutes<Uploader extends { readonly id: number | string }>(parts: FileRouteParts<Uploader>): Routes {
  const { store, records, log } = parts;

  const download = (part: 'file' | 'thumbnail') => async (request: RequestHead): Promise<Response> => {
    const id = request.params.id!;
    const file = await records.authorizeDownload(id, request);
    if (!file) return notFound;
    if ('refuse' in file) return file.refuse;
    const response = await serveFile(request, store, file, part);
    if (!response && (part === 'file' || file.thumbnail)) log.error('stored bytes are missing', { id, part });
    return response ?? notFound;
  };

  return {
    '/files': { POST: uploadRoute(parts) },
    '/files/:id': { GET: download('file') },
    '/files/:id/thumbnail': { GET: download('thumbnail') },
  };
}
