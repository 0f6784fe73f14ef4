// Serving stored bytes: 200 or 206 streamed from the store, 304 while the ETag holds, 416 for a range past the end, each with the headers that keep a file inert.
import type { RequestHead, Response } from '../transport/http.ts';
import { choose } from '../transport/ranges.ts';
import type { FileStore } from './store.ts';
import { fileHeaders } from './headers.ts';
import { thumbnailType } from './inspect.ts';
import type { StoredFile } from './upload.ts';

/** What serving needs to know of some stored bytes. */
type Served = { readonly key: string; readonly size: number; readonly sha256: string; readonly type: string; readonly name: string };

export const notFound: Response = { status: 404, body: 'file not found' };

async function serve(request: RequestHead, store: FileStore, served: Served): Promise<Response | undefined> {
  const etag = `"${served.sha256}"`;
  const choice = choose(request.headers, served.size, etag);
  const validators: [string, string][] = [['ETag', etag], ['Cache-Control', 'private, no-cache']];
  if (choice.kind === 'not_modified') return { status: 304, headers: validators };
  if (choice.kind === 'unsatisfiable') {
    return { status: 416, body: `range not satisfiable: the file has ${served.size} bytes`, headers: [['Content-Range', `bytes */${served.size}`], ...validators] };
  }
  const headers = [...fileHeaders(served.type, served.name), ['ETag', etag] as [string, string]];
  if (choice.kind === 'whole') {
    const stream = await store.get(served.key);
    return stream && { status: 200, body: { size: served.size, stream }, headers };
  }
  const { start, end } = choice.range;
  const stream = await store.get(served.key, choice.range);
  return stream && { status: 206, body: { size: end - start + 1, stream }, headers: [...headers, ['Content-Range', `bytes ${start}-${end}/${served.size}`]] };
}

/**
 * Answers a GET of a file the caller may have, or of its thumbnail. Bytes missing from the store
 * (removed behind the records' back) are a 404 like any other, and logged by the caller.
 */
export async function serveFile(request: RequestHead, store: FileStore, file: StoredFile, part: 'file' | 'thumbnail'): Promise<Response | undefined> {
  if (part === 'file') return serve(request, store, file);
  const thumbnail = file.thumbnail;
  if (!thumbnail) return undefined;
  const stem = file.name.replace(/\.[^.]*$/, '') || 'file';
  return serve(request, store, { ...thumbnail, type: thumbnailType, name: `${stem}.webp` });
}
