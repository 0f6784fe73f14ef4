// Reads that run away from the queue of work, once the unit that asked for them is committed: on SQLite
// on reader threads with their own read-only connections (storage/sqlite/readers.ts), on PostgreSQL on
// the pool's connections. Each takes a store and plain data and gives plain data back (it crosses threads).
import type { Store } from '../storage/index.ts';
import type { SearchQuery } from '../storage/stores/search.ts';
import { sharedMessages } from './message-view.ts';

export const reads = {
  async search(store: Store, query: SearchQuery) {
    const found = await store.search.find(query);
    return { next: found.next, snippets: found.rows.map((row) => row.snippet), shown: await sharedMessages(store, found.rows) };
  },
};

export type ReadName = keyof typeof reads;
export type ReadInput<K extends ReadName> = Parameters<(typeof reads)[K]>[1];
export type ReadValue<K extends ReadName> = Awaited<ReturnType<(typeof reads)[K]>>;

export type Reads = {
  /** Runs a read; `ms` is the time it took where it ran, to charge to whoever asked. */
  run<K extends ReadName>(name: K, input: ReadInput<K>): Promise<{ value: ReadValue<K>; ms: number }>;
  close(): Promise<void>;
};

/** Runs a read on `store` (committed data outside any unit), timed. */
export async function runRead<K extends ReadName>(store: Store, name: K, input: ReadInput<K>): Promise<{ value: ReadValue<K>; ms: number }> {
  const began = performance.now();
  const value = (await reads[name](store, input as never)) as ReadValue<K>;
  return { value, ms: performance.now() - began };
}

/** Reads on this thread, on `store`'s own connections: PostgreSQL's pool, or a handler test's database. */
export const inProcessReads = (store: Store): Reads => ({ run: (name, input) => runRead(store, name, input), close: async () => {} });
