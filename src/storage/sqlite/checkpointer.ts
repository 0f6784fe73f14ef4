// Moves WAL checkpoints off the event loop: a worker thread with its own connection checkpoints
// every interval, so a checkpoint's copying and fsyncs never stall the server's thread.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../log.ts';

export type Checkpointer = { stop(): Promise<void> };

export function startCheckpointer(path: string, log: Logger, intervalMs = 2000): Checkpointer {
  const worker = new Worker(new URL('./checkpoint-worker.mjs', import.meta.url), { workerData: { path, intervalMs } });
  worker.on('message', (message: { error: string }) => log.warn('background checkpoint failed', { error: message.error }));
  worker.on('error', (error) => log.error('checkpoint worker died', { error }));
  worker.unref();
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  return {
    async stop() {
      worker.ref(); // keep the process alive until the worker has closed its connection
      worker.postMessage('stop');
      await exited;
    },
  };
}
