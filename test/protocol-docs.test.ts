// The protocol reference is generated from the schemas; this fails when protocol/README.md is stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderReference } from '../protocol/docs.ts';
import { events, pushes, errors } from '../protocol/index.ts';

const committed = readFileSync(new URL('../protocol/README.md', import.meta.url), 'utf8');

test('protocol/README.md is what `npm run protocol:docs` generates', () => {
  assert.equal(committed, renderReference(), 'protocol/README.md is stale: run `npm run protocol:docs`');
});

test('the reference names every event, push and error', () => {
  for (const type of Object.keys(events)) assert.ok(committed.includes(`### \`${type}\`\n`), type);
  for (const type of Object.keys(pushes)) assert.ok(committed.includes(`### \`${type}\` (push)`), type);
  for (const { text } of Object.values(errors)) assert.ok(committed.includes(text.replace(/\{(\w+)\}/g, '<$1>')), text);
});
