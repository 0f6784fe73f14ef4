// The compiled build: src/, protocol/ and the two test helpers that run as processes of their own, as JavaScript in
// dist/ (same layout, one .js per .ts, every import left as an import), so that `npm start` and `npm run admin`
// start without compiling TypeScript. Plain JavaScript itself, so that it runs before anything is compiled.
//
//   node build.mjs            builds when dist/ is missing or older than the sources (npm install's prepare, npm start)
//   node build.mjs --force    builds anyway
//
// tsx stays for development and the tests: they run the sources; what they spawn as a server runs this build.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const out = join(root, 'dist');
const stampFile = join(out, 'sources.json');
/** What is built: every file under these folders (TypeScript compiled, anything else copied: migrations, .mjs workers, protocol/README.md)... */
const trees = ['src', 'protocol'];
/** ...and these: the test helpers that tests spawn (a cluster node, the files app), which import only from src/. */
const helpers = ['test/helpers/cluster-node.ts', 'test/helpers/files-app.ts'];

/** Every source file with its size and modification time, plus this script: the build is fresh when they are what it was made from. */
function sources() {
  const found = {};
  const walk = (folder) => {
    for (const entry of readdirSync(join(root, folder), { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'dist') walk(path);
      } else if (entry.isFile()) {
        const { size, mtimeMs } = statSync(join(root, path));
        found[path] = `${size}:${mtimeMs}`;
      }
    }
  };
  for (const tree of trees) walk(tree);
  for (const path of [...helpers, 'build.mjs']) {
    const { size, mtimeMs } = statSync(join(root, path));
    found[path] = `${size}:${mtimeMs}`;
  }
  return found;
}

/** Whether dist/ holds the build of the sources as they are now. */
export function isFresh() {
  if (!existsSync(stampFile)) return false;
  const made = readFileSync(stampFile, 'utf8');
  return made === JSON.stringify(sources());
}

/**
 * Leaves every import as it is, only pointing relative ones at the compiled file (`./x.ts` → `./x.js`): each
 * file compiles to one file, and node_modules (the native uWebSockets.js, better-sqlite3, argon2, sharp
 * among them) is loaded as installed.
 */
const importsAsTheyAre = {
  name: 'imports-as-they-are',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      return { path: args.path.startsWith('.') ? args.path.replace(/\.ts$/, '.js') : args.path, external: true };
    });
  },
};

/**
 * Builds into a folder of its own and swaps it for dist/ at the end (two renames), so that a process
 * starting meanwhile, or a running server loading a worker, never sees half a build.
 */
export async function build() {
  const { build: esbuild } = await import('esbuild');
  const stamp = JSON.stringify(sources());
  const files = Object.keys(JSON.parse(stamp)).filter((path) => path !== 'build.mjs');
  const staging = join(root, `.dist-${process.pid}`);
  const old = join(root, `.dist-old-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  try {
    await esbuild({
      entryPoints: files.filter((path) => path.endsWith('.ts')).map((path) => join(root, path)),
      outdir: staging,
      outbase: root,
      bundle: true,
      plugins: [importsAsTheyAre],
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'warning',
    });
    for (const path of files.filter((path) => !path.endsWith('.ts'))) {
      mkdirSync(dirname(join(staging, path)), { recursive: true });
      cpSync(join(root, path), join(staging, path));
    }
    writeFileSync(join(staging, 'sources.json'), stamp);
    if (existsSync(out)) renameSync(out, old);
    renameSync(staging, out);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
}

/** Makes sure dist/ is fresh: builds it when it is not. Answers whether it built. */
export async function ensureBuilt() {
  if (isFresh()) return false;
  await build();
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const built = process.argv.includes('--force') ? (await build(), true) : await ensureBuilt();
  // Quiet when there was nothing to do: npm start runs this before every start.
  if (built) console.error(`built ${relative(process.cwd(), out) || '.'} in ${Math.round(performance.now() - started)} ms`);
}
