// The protocol reference is generated from the schemas; this fails when protocol/README.md is stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import { exampleRequest, renderReference } from '../protocol/docs.ts';
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

test("every event's example request in the reference is a valid request", () => {
  for (const [type, spec] of Object.entries(events)) {
    const { type: _, ...fields } = exampleRequest(type, spec);
    const result = v.safeParse(spec.request, fields);
    assert.ok(result.success, `${type}: ${JSON.stringify(fields)} fails: ${result.issues?.[0]?.message}`);
    assert.ok(committed.includes(`Request: \`${JSON.stringify(exampleRequest(type, spec))}\``), `${type}'s example is in the reference`);
  }
});

test('optional fields of replies and pushes are marked optional', () => {
  assert.ok(committed.includes('`data`: `{ conversation_id: number, username: string, delivered_id?: number, read_id?: number }`'), 'receipt.read_id is optional');
});
