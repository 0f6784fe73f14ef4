// Runs the administration command line (`npm run admin`) as a child process, piped or on a pseudo-terminal.
import { spawn, spawnSync } from 'node:child_process';
import { built } from './built.ts';

const root = new URL('../..', import.meta.url).pathname;

export type AdminResult = { code: number | null; stdout: string; stderr: string };

/** `script` (util-linux) runs a command on a pseudo-terminal: the way to see what a person at a terminal sees. */
export const hasScript = spawnSync('script', ['--version']).status === 0;

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the built `src/admin.ts` with `args` and only the given environment (plus PATH). With `terminal`, it
 * runs under `script`, so its stdout and stderr are a terminal; everything it wrote is then in `stdout`.
 */
export function runAdmin(env: Record<string, string>, args: string[], options: { terminal?: boolean } = {}): Promise<AdminResult> {
  const command = [process.execPath, built('src/admin.ts'), ...args];
  const [file, argv] = options.terminal ? ['script', ['-qefc', command.map(quote).join(' '), '/dev/null']] : [command[0]!, command.slice(1)];
  return new Promise((resolve) => {
    const child = spawn(file, argv as string[], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
