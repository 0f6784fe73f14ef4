// No orphans: a server a test starts outside its own process tree (PostgreSQL daemonises; Redis and
// nginx would outlive a SIGKILLed parent) is handed to a reaper process that cleans it up when this
// process ends without doing so itself.
import { spawn } from 'node:child_process';

/** What to undo: processes to kill, commands to run (e.g. pg_ctl stop), folders to remove. */
export type Plan = { kill?: number[]; run?: string[][]; remove?: string[] };

export type Reaper = {
  /** Replaces the plan carried out if this process dies. */
  plan(plan: Plan): void;
  /** The caller cleaned up itself: the reaper exits doing nothing. */
  done(): void;
};

const script = new URL('reaper.mjs', import.meta.url).pathname;

export function startReaper(plan: Plan): Reaper {
  // Detached: a signal to this process group (Ctrl-C, a test runner's kill) does not reach it.
  const child = spawn(process.execPath, [script], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.unref();
  const input = child.stdin!;
  // The pipe must not keep this process alive: its closing at exit is the reaper's signal.
  (input as unknown as { unref(): void }).unref();
  input.on('error', () => {}); // the reaper gone first: nothing left to tell it
  const send = (next: Plan) => input.write(`${JSON.stringify(next)}\n`);
  send(plan);
  return {
    plan: send,
    done() {
      send({});
      input.end();
    },
  };
}
