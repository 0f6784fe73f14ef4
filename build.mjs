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

/**
 * The PostgreSQL client (the `postgres` package, 3.4.x) puts a small write off to setImmediate. When its
 * connection closes before that immediate runs (a write made from another immediate, the socket closed
 * in the same turn of the loop: the database stopping, restarting or dropping the connection), `closed()`
 * cancels the immediate but keeps its handle, so every later small write on that connection, its next
 * start-up message first, waits for an immediate that never comes: each query on it fails with
 * CONNECT_TIMEOUT, for good (found behind a node that stopped answering after PostgreSQL came back); and a
 * write made after the close, with no immediate pending, throws from the immediate on the nulled socket and
 * ends the process (porsager/postgres#1154). 3.4.10 has the same code; 4.x is a rewrite. So, on every
 * install and start, its connection.js (ESM and CommonJS) gets small changes, made once: the close
 * and the termination forget the pending write, and a write due on a closed socket is dropped (its query
 * was already failed with CONNECTION_CLOSED). A reserved connection (a batch's, held from BEGIN to
 * COMMIT) whose socket closed between two statements was still handed the next (the ROLLBACK), whose write
 * was then dropped: it never settled, and every unit of work queued behind it waited for good. A query
 * handed to a closed connection now fails at once with CONNECTION_CLOSED, and index.js's release does not
 * put such a connection back among the open ones. test/postgres-client.test.ts shows both against a real
 * PostgreSQL and fails without them.
 */
export function patchPostgresClient() {
  const marker = '/* parley: pending write forgotten on close */';
  const closedMarker = '/* parley: a closed connection fails its queries */';
  // Each edit is made once: a file that has its `after` already is left as it is.
  const edits = {
    'connection.js': [
      ['  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)', `  function nextWrite(fn) {\n    if (socket === null) return (chunk = nextWriteTimer = null, false) ${marker}\n    const x = socket.write(chunk, fn)`],
      ['    clearImmediate(nextWriteTimer)\n    if (socket) {', `    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null ${marker}\n    if (socket) {`],
      ['    clearImmediate(nextWriteTimer)\n    socket.removeListener(\'data\', data)', `    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null ${marker}\n    socket.removeListener('data', data)`],
      // A reserved connection (a batch's, held from BEGIN to COMMIT) whose socket closed is still handed
      // queries: fail them at once, as an open connection's were failed when it closed, rather than let
      // their write be dropped and the query wait for ever.
      ["      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))\n", `      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))\n\n    if (socket === null) ${closedMarker}\n      return queryError(q, Errors.connection('CONNECTION_CLOSED', options))\n`],
    ],
    'index.js': [
      // ...and neither that nor giving such a connection back may put it among the open ones: it is
      // closed (or connecting again), and the pool opens it when it is needed.
      ['    sql.release = () => {\n      c.reserved = null\n      onopen(c)\n    }', `    sql.release = () => {\n      c.reserved = null\n      c.queue === closed || c.queue === connecting || onopen(c) ${closedMarker}\n    }`],
      ['        ? queue.push(q)\n        : c.execute(q) || move(c, full)', `        ? queue.push(q)\n        : c.execute(q) || c.queue === closed || move(c, full) ${closedMarker}`],
    ],
  };
  for (const folder of ['node_modules/postgres/src', 'node_modules/postgres/cjs/src']) {
    for (const [name, changes] of Object.entries(edits)) {
      const file = join(root, folder, name);
      if (!existsSync(file)) continue;
      let text = readFileSync(file, 'utf8');
      const before = text;
      for (const [from, to] of changes) {
        if (text.includes(to)) continue;
        if (text.split(from).length !== 2) throw new Error(`${folder}/${name} is not the postgres client this patch was written for (${from.trim().split('\n')[0]}): see patchPostgresClient in build.mjs`);
        text = text.replace(from, to);
      }
      if (text !== before) writeFileSync(file, text);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  patchPostgresClient();
  const started = performance.now();
  const built = process.argv.includes('--force') ? (await build(), true) : await ensureBuilt();
  // Quiet when there was nothing to do: npm start runs this before every start.
  if (built) console.error(`built ${relative(process.cwd(), out) || '.'} in ${Math.round(performance.now() - started)} ms`);
}
