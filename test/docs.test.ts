// The docs hold together: the settings table is what the schema generates, and every link between the pages lands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as v from 'valibot';
import { page, renderSettings, withSettings } from '../src/config-docs.ts';
import { readSettings, settingFields } from '../src/config.ts';

const root = new URL('..', import.meta.url).pathname;

test('docs/configuration.md is what `npm run settings:docs` generates from src/config.ts', () => {
  const committed = readFileSync(page, 'utf8');
  assert.equal(committed, withSettings(committed, renderSettings()), 'docs/configuration.md is stale: run `npm run settings:docs`');
});

test('the table has a row for every setting the server reads, with its default', () => {
  const table = renderSettings();
  const rows = table.split('\n').filter((line) => line.startsWith('| `'));
  assert.deepEqual(rows.map((row) => /^\| `(\w+)`/.exec(row)![1]), Object.keys(settingFields));
  const defaults = readSettings({});
  assert.ok(table.includes(`| \`PORT\` | \`${defaults.PORT}\` |`));
  assert.ok(table.includes(`| \`MAX_UPLOAD_BYTES\` | \`${defaults.MAX_UPLOAD_BYTES}\` (25 MiB) |`));
  assert.ok(table.includes('| `DATABASE_URL` | *(none)* |'));
  assert.ok(table.includes('| `TRUST_PROXY` | *(none)* |'), 'an empty default is shown as none');
  assert.ok(table.includes('| `JWTSECRET` | *(generated)* |'));
});

test('a setting without a description does not make the table', () => {
  assert.throws(() => renderSettings({ ...settingFields, PROBE: v.optional(v.string(), 'x') }), /PROBE has no description in src\/config.ts/);
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-');

function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#+ (.*)$/.exec(line);
    if (heading) found.add(anchor(heading[1]!));
  }
  return found;
}

test('every relative link of README.md and docs/ lands on a file, and on a heading when it names one', () => {
  const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
  const broken: string[] = [];
  let checked = 0;
  for (const from of pages) {
    const text = readFileSync(join(root, from), 'utf8').replace(/^```[\s\S]*?^```$/gm, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [path, hash] = target!.split('#') as [string, string | undefined];
      const file = path === '' ? join(root, from) : join(root, dirname(from), path);
      checked++;
      if (!existsSync(file)) broken.push(`${from}: ${target} (no ${relative(root, file)})`);
      else if (hash !== undefined && !anchors(readFileSync(file, 'utf8')).has(hash)) broken.push(`${from}: ${target} (no such heading)`);
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(checked > 50, `only ${checked} links found`);
});
