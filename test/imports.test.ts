// The shape of the code as its imports draw it: no file imports one that imports it back (however
// far round, type-only imports included), and protocol/ (the contract a browser imports) imports
// nothing from src/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

function sources(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .map((name) => join(folder, name));
}

/** Every relative `import … from` and `export … from` of a file, as repository paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)'/gms)].map((match) => relative(root, resolve(root, dirname(file), match[1]!)));
}

/** Groups of files that reach each other through imports (Tarjan's strongly connected components), those of more than one file. */
function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(file, Math.min(low.get(file)!, index.get(next)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const group: string[] = [];
    for (let member = stack.pop()!; ; member = stack.pop()!) {
      onStack.delete(member);
      group.push(member);
      if (member === file) break;
    }
    if (group.length > 1) found.push(group.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

const files = [...sources('src'), ...sources('protocol')];
const graph = new Map(files.map((file) => [file, importsOf(file)]));

test('the imports read are the real ones: each names a file that exists', () => {
  const known = new Set(files);
  const missing = [...graph].flatMap(([file, imports]) => imports.filter((target) => !known.has(target)).map((target) => `${file} -> ${target}`));
  assert.deepEqual(missing, []);
  assert.ok(graph.get('src/server.ts')!.includes('src/app.ts'), 'server.ts imports app.ts');
});

test('no import circle in src/ and protocol/, type-only imports included', () => {
  assert.deepEqual(circles(graph), []);
  // The check itself finds a circle when there is one.
  assert.deepEqual(circles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]])), [['a', 'b', 'c']]);
});

test('protocol/ imports nothing from src/', () => {
  const crossing = [...graph].filter(([file]) => file.startsWith('protocol/')).flatMap(([file, imports]) => imports.filter((target) => target.startsWith('src/')).map((target) => `${file} -> ${target}`));
  assert.deepEqual(crossing, []);
});
