// Cleans up after a test process that may die without cleaning up itself (SIGKILL, a crash, Ctrl-C):
// started detached, with a pipe from its parent as stdin. Each line the parent writes is the plan
// (JSON: pids to kill, commands to run, folders to remove), replacing the one before; when the pipe
// closes — the parent exited, however it ended — the last plan is carried out. Plain JavaScript so
// that it starts fast and needs no tsx; it outlives its parent's process group on purpose.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** @type {{ kill?: number[]; run?: string[][]; remove?: string[] }} */
let plan = {};
createInterface({ input: process.stdin }).on('line', (line) => {
  try {
    plan = JSON.parse(line);
  } catch {
    // a torn line from a dying parent: keep the last complete plan
  }
});
process.stdin.on('close', () => {
  for (const pid of plan.kill ?? []) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const [command, ...args] of plan.run ?? []) spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 });
  for (const dir of plan.remove ?? []) rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
