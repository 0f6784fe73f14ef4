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

/** The cursor a request's `after` holds, read back (null: from the first); `bad_cursor` when it is not one. */
export const cursorAfter = (after: string | null | undefined, parts: number): number[] | null => (after == null ? null : readCursor(after, parts));
