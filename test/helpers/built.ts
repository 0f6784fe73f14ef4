// What spawned servers run: the compiled build in dist/ (build.mjs), as `npm start` and `npm run admin` do. npm test
// builds it before the suite; a test file run on its own builds it here when the sources changed since.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
execFileSync(process.execPath, [join(root, 'build.mjs')], { stdio: ['ignore', 'inherit', 'inherit'] });

/** The compiled file of a source (`src/main.ts` → the absolute path of `dist/src/main.js`). */
export const built = (source: string): string => join(root, 'dist', source.replace(/\.ts$/, '.js'));
