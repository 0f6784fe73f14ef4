// Images cleaned in worker processes (image-worker.ts), out of the server's memory: a few at a time, shared fairly between addresses and accounts, each within its format's limits, stopped when nobody waits for it.
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { fairQueue, type Turn } from './fair-queue.ts';
import { ImageRefused, tooManyPixels, tooSlow, type CleanImage, type ImageFormat } from './inspect.ts';
import type { Answer, Job } from './image-worker.ts';

/**
 * Images cleaned at once, each in a worker process of its own, below the chat's priority: one on a
 * machine of one or two cores, two on a larger one (a core is left for the chat, as for password
 * hashes). Each may take up to about 550 MiB while it runs (a 12-megapixel AVIF of noise; a
 * 50-megapixel JPEG, PNG or WebP about 150 MiB).
 */
const imagesAtOnce = Math.max(1, Math.min(2, availableParallelism() - 1));
/** A worker idle this long exits, and its memory goes back to the system. */
const idleMs = 5_000;
/** A worker that holds more than this after a job exits at once rather than keep it (one holds about 115 MiB between jobs). */
const keptBytes = 192 * 1024 * 1024;
/** Startup of a worker (Node.js, tsx and sharp: about 0.5 s) is not counted in a job's time, but past this it has failed. */
const startupMs = 30_000;

/**
 * `clean` cleans the image at `input` (of the format `limits` describe: inspect.ts) into `output`
 * when its turn comes. It answers undefined when the bytes do not decode as that format (or libvips
 * died on them); it throws ImageRefused past the format's limits, and the signal's reason when the
 * client went away.
 */
export type ImageCleaner = { clean(input: string, output: string, limits: ImageFormat, turn: Turn): Promise<CleanImage | undefined> };

type Worker = { readonly child: ChildProcess; readonly ready: Promise<void>; idle?: NodeJS.Timeout };

// The worker is what the server is: compiled JavaScript from dist/ (build.mjs), or TypeScript under tsx, then
// started with tsx's loader, found from here whatever the working folder.
const compiled = import.meta.url.endsWith('.js');
const workerPath = fileURLToPath(new URL(compiled ? './image-worker.js' : './image-worker.ts', import.meta.url));
const workerArgs = compiled ? [] : ['--import', import.meta.resolve('tsx')];

function startWorker(): Worker {
  // None of the server's settings (its secrets stay out of the process that parses untrusted images);
  // one glibc malloc arena, so that what a job freed is reused by the next: with glibc's default of
  // eight per core a worker kept about 300 MiB after a few AVIF bombs, with one 115 MiB.
  const env = { PATH: process.env.PATH, ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}), MALLOC_ARENA_MAX: '1' };
  const child = fork(workerPath, [], { env, execArgv: workerArgs, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // Neither an idle worker nor its channel keeps the server's process alive.
  child.unref();
  child.channel?.unref();
  // A failure to signal or message it shows as its exit, which every caller watches.
  child.on('error', () => {});
  const ready = new Promise<void>((resolve, reject) => {
    const settle = (error?: Error) => {
      clearTimeout(timer);
      child.off('message', started).off('exit', exited).off('error', settle);
      if (error) reject(error);
      else resolve();
    };
    const started = () => settle();
    const exited = (code: number | null, signal: string | null) => settle(new Error(`the image worker exited as it started (${signal ?? code})`));
    const timer = setTimeout(() => settle(new Error('the image worker did not start')), startupMs);
    child.once('message', started).once('exit', exited).once('error', settle);
  });
  ready.catch(() => {}); // the job that waits for it learns of it
  return { child, ready };
}

/**
 * Runs one job on `worker`: the worker's answer, or why it was ended (SIGKILL: libvips cannot be
 * interrupted inside a codec) when the job passed its format's seconds or the signal aborted, or
 * that it died on the image.
 */
function runOn(worker: Worker, job: Job, signal: AbortSignal | undefined): Promise<{ answer?: Answer; stopped?: 'too_slow' | 'aborted' | 'died' }> {
  const { child } = worker;
  return new Promise((resolve) => {
    const finish = (outcome: { answer?: Answer; stopped?: 'too_slow' | 'aborted' | 'died' }) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      child.off('message', answered);
      child.off('exit', died);
      if (outcome.stopped) child.kill('SIGKILL');
      resolve(outcome);
    };
    const answered = (answer: Answer) => finish({ answer });
    const died = () => finish({ stopped: 'died' });
    const abort = () => finish({ stopped: 'aborted' });
    const timer = setTimeout(() => finish({ stopped: 'too_slow' }), job.limits.seconds * 1000);
    signal?.addEventListener('abort', abort, { once: true });
    child.on('message', answered);
    child.once('exit', died);
    child.send(job, (error) => error && died());
  });
}

/** A new cleaner: its own queue and workers (started when an image comes, ended when idle). */
export function imageCleaner(atOnce = imagesAtOnce): ImageCleaner {
  const turns = fairQueue(atOnce);
  const idle: Worker[] = [];

  function retire(worker: Worker): void {
    clearTimeout(worker.idle);
    const at = idle.indexOf(worker);
    if (at >= 0) idle.splice(at, 1);
    worker.child.kill('SIGKILL');
  }

  function keep(worker: Worker): void {
    worker.idle = setTimeout(() => retire(worker), idleMs);
    worker.idle.unref();
    idle.push(worker);
  }

  /** An idle worker still there (one may have been ended from outside), or a new one. */
  function take(): Worker {
    for (let worker; (worker = idle.pop());) {
      clearTimeout(worker.idle);
      if (worker.child.connected) return worker;
      retire(worker);
    }
    return startWorker();
  }

  async function work(job: Job, signal: AbortSignal | undefined): Promise<CleanImage | undefined> {
    const worker = take();
    try {
      await worker.ready;
    } catch (error) {
      retire(worker);
      throw error;
    }
    if (signal?.aborted) {
      keep(worker);
      throw signal.reason;
    }
    const { answer, stopped } = await runOn(worker, job, signal);
    if (answer && answer.rss <= keptBytes) keep(worker);
    else retire(worker);
    if (stopped === 'aborted') throw signal!.reason;
    if (stopped === 'too_slow' || answer?.kind === 'too_slow') throw new ImageRefused(tooSlow(job.limits));
    if (answer?.kind === 'too_large') throw new ImageRefused(tooManyPixels(job.limits));
    return answer?.kind === 'clean' ? { ...answer.image, thumbnail: { ...answer.image.thumbnail, data: Buffer.from(answer.image.thumbnail.data) } } : undefined;
  }

  return {
    clean: (input, output, limits, turn) => turns(turn, () => work({ input, output, limits }, turn.signal)),
  };
}
