// Keyset pages: a list read from an index a page at a time, each page going on after the last row of the one before.
import { fail } from '../errors.ts';

/** A cursor (the `next` of an earlier page) read back into its `parts` whole numbers; `bad_cursor` when it is not one. */
export function readCursor(after: string, parts: number): number[] {
  const numbers = after.split('.');
  if (numbers.length !== parts || !numbers.every((part) => /^\d{1,16}$/.test(part))) throw fail('bad_cursor');
  return numbers.map(Number);
}

/**
 * A page of the `limit + 1` rows read after a cursor: the first `limit`, and `next`, the cursor after the
 * last of them (its key, `keyOf`), when the extra row shows there are more.
 */
export function pageOf<R>(rows: readonly R[], limit: number, keyOf: (row: R) => readonly number[]): { rows: R[]; next: string | null } {
  const page = rows.slice(0, limit);
  return { rows: page, next: rows.length > limit ? keyOf(page.at(-1)!).join('.') : null };
}

/**
 * The page after `after` (the `next` of an earlier page; absent: the first) of at most `limit` rows, in
 * an order keyed by `parts` numbers: `read` fetches from the key the cursor holds, one row more than the
 * page, to know whether there are more.
 */
export async function readPage<R>(
  parts: number,
  { after, limit }: { after?: string | null; limit: number },
  read: (from: readonly number[] | null, count: number) => Promise<R[]>,
  keyOf: (row: R) => readonly number[],
): Promise<{ rows: R[]; next: string | null }> {
  return pageOf(await read(after == null ? null : readCursor(after, parts), limit + 1), limit, keyOf);
}
