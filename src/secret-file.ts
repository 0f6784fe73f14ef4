// Secrets Parley makes for itself and keeps beside the database (the JWT secret, the VAPID key): made once, 0600, never half-written.
import { chmodSync, linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';

/**
 * The content of `file`; when it does not exist, `make()` is written to it first and `created` is
 * true. Written whole under a temporary name, then linked into place, so a crash never leaves a
 * short secret. Nodes of a cluster started at once on one folder (PostgreSQL: no database lock keeps
 * them apart) may both find no file: the first link wins, and the others read what it wrote. Any other
 * read failure throws naming the file, `what` it is and the `fix`.
 */
export function readOrCreateSecret(file: string, make: () => Buffer, what: string, fix: string): { content: Buffer; created: boolean } {
  try {
    return { content: readFileSync(file), created: false };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new Error(`the ${what} file ${file} cannot be read (${code ?? (error as Error).message}): ${fix}`);
  }
  const content = make();
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, content, { mode: 0o600, flag: 'wx', flush: true });
  chmodSync(partial, 0o600);
  try {
    linkSync(partial, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { content: readFileSync(file), created: false };
  } finally {
    unlinkSync(partial);
  }
  return { content, created: true };
}
