// Conditional and partial GETs (RFC 9110 §13, §14): If-None-Match → 304, Range → 206 or 416, for bytes known by size and ETag.

/** Inclusive byte positions, as in a Content-Range header. */
export type ByteRange = { readonly start: number; readonly end: number };

/** What a GET of `size` bytes with entity tag `etag` should answer, given the request's headers. */
export type Representation =
  | { readonly kind: 'not_modified' }
  | { readonly kind: 'whole' }
  | { readonly kind: 'partial'; readonly range: ByteRange }
  | { readonly kind: 'unsatisfiable' };

const opaque = (tag: string) => tag.trim().replace(/^W\//, '');

/** Whether an If-None-Match value (`*` or a list of entity tags) names this one, compared weakly. */
function noneMatchHits(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return (header.match(/(?:W\/)?"[^"]*"/g) ?? []).some((tag) => opaque(tag) === opaque(etag));
}

/**
 * One `bytes=` range of a Range header, resolved against `size`. Several ranges, or a header that is
 * not a byte range at all, are answered with the whole body (a server may ignore Range), so the
 * answer is undefined for them.
 */
function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.replace(/\s+/g, ''));
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const [first, last] = [match[1]!, match[2]!];
  if (first === '') {
    const suffix = Number(last); // the last `suffix` bytes
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined; // syntactically invalid: ignored
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * Decides between 304, 200, 206 and 416. `If-None-Match` wins over `Range`; a Range guarded by an
 * `If-Range` that does not name the current (strong) entity tag is ignored, so a client resuming a
 * download of bytes that have since changed gets them whole.
 */
export function choose(headers: Readonly<Record<string, string>>, size: number, etag: string): Representation {
  const noneMatch = headers['if-none-match'];
  if (noneMatch && noneMatchHits(noneMatch, etag)) return { kind: 'not_modified' };
  const range = headers.range;
  if (!range) return { kind: 'whole' };
  const ifRange = headers['if-range'];
  if (ifRange && ifRange.trim() !== etag) return { kind: 'whole' };
  const parsed = parseRange(range, size);
  if (parsed === undefined) return { kind: 'whole' };
  if (parsed === 'unsatisfiable') return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: parsed };
}
