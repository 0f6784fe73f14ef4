// Reader threads for SQLite: expensive reads (a search) run on a few worker threads, each with its own
// read-only connection (WAL lets them read while the server writes), so the server's thread keeps serving.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';
import type { ReadInput, ReadName, Reads, ReadValue } from './table.ts';

// The thread runs what the server runs: compiled JavaScript from dist/ (build.mjs), or TypeScript, then (Node 20
// does not run `--import tsx` in worker threads) it registers tsx's loader itself before it imports the worker.
const boot = import.meta.url.endsWith('.js')
  ? `import(${JSON.stringify(import.meta.resolve('./worker.js'))})`
  : `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(import.meta.resolve('./worker.ts'))}); })`;

type Answer = { id: number; value?: unknown; error?: string; ms: number };
type Waiting = { resolve(answer: { value: never; ms: number }): void; reject(error: Error): void };
type Thread = { worker: Worker; waiting: Map<number, Waiting> };

/**
 * `count` threads on the database at `path`. A read goes to the thread with the fewest under way; a
 * thread that dies fails only its own reads and is replaced.
 */
export function startReaders(path: string, count: number, log: Logger): Reads {
  let lastId = 0;
  let closing = false;
  const start = (): Thread => {
    const worker = new Worker(boot, { eval: true, workerData: { path } });
    const thread: Thread = { worker, waiting: new Map() };
    worker.unref();
    worker.on('message', ({ id, value, error, ms }: Answer) => {
      const waiting = thread.waiting.get(id);
      thread.waiting.delete(id);
      if (error === undefined) waiting?.resolve({ value: value as never, ms });
      else waiting?.reject(new Error(error));
      if (thread.waiting.size === 0) worker.unref();
    });
    worker.on('error', (error) => log.error('reader thread died', { error }));
    worker.once('exit', () => {
      for (const { reject } of thread.waiting.values()) reject(new Error('the reader thread ended'));
      thread.waiting.clear();
      if (!closing) threads[threads.indexOf(thread)] = start();
    });
    return thread;
  };
  const threads = Array.from({ length: count }, start);
  return {
    run<K extends ReadName>(name: K, input: ReadInput<K>): Promise<{ value: ReadValue<K>; ms: number }> {
      const thread = threads.reduce((least, each) => (each.waiting.size < least.waiting.size ? each : least));
      const id = ++lastId;
      return new Promise((resolve, reject) => {
        thread.waiting.set(id, { resolve, reject });
        // Referenced while it owes an answer: a read under way keeps the process up, an idle thread does not.
        thread.worker.ref();
        thread.worker.postMessage({ id, name, input });
      });
    },
    async close() {
      closing = true;
      await Promise.all(threads.map(({ worker }) => worker.terminate()));
    },
  };
}
