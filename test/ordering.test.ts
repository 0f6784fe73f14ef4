// The sequencer of a cluster node: this node's committed events and those the follower reads from the
// log (other nodes') are delivered in seq order, each once, whichever arrives first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSequencer } from '../src/ordering.ts';
import { createLogger } from '../src/log.ts';

function following(from = 0) {
  const lines: { level: string; msg: string }[] = [];
  const sequencer = createSequencer(createLogger('debug', (line) => lines.push(JSON.parse(line))));
  let behind = 0;
  sequencer.hooks({ behind: () => behind++ });
  sequencer.start(from);
  const delivered: string[] = [];
  const local = (seq: number) => sequencer.committed(seq, () => delivered.push(`local ${seq}`));
  const read = (seqs: number[], upTo: number) =>
    sequencer.advance(new Map(seqs.map((seq) => [seq, seq])), upTo, (seq) => delivered.push(`remote ${seq}`));
  return { sequencer, delivered, local, read, lines, behind: () => behind };
}

test('a local event waits for a lower seq another node committed; it goes right after that one is read', () => {
  const { sequencer, delivered, local, read, behind } = following(10);
  sequencer.logged(12);
  local(12);
  assert.deepEqual(delivered, [], '11 is not here yet');
  assert.equal(sequencer.waiting(), 1);
  assert.equal(behind(), 1, 'the follower is woken');
  assert.equal(read([11, 12], 12), undefined);
  assert.deepEqual(delivered, ['remote 11', 'local 12'], 'the log also has 12, but as this node\'s it is delivered once, as committed');
  assert.equal(sequencer.waiting(), 0);
  assert.equal(sequencer.through(), 12);
});

test('the follower stops at a seq this node logged but has not handed over, and goes on once it is', () => {
  const { sequencer, delivered, local, read } = following(0);
  sequencer.logged(2);
  assert.equal(read([1, 2, 3], 3), 2, 'waits for 2');
  assert.deepEqual(delivered, ['remote 1']);
  local(2);
  assert.deepEqual(delivered, ['remote 1', 'local 2']);
  assert.equal(read([3], 3), undefined);
  assert.deepEqual(delivered, ['remote 1', 'local 2', 'remote 3']);
});

test('a seq this node logged in an undone unit is forgotten: then it is another node\'s, read from the log', () => {
  const { sequencer, delivered, read } = following(0);
  sequencer.logged(1);
  assert.equal(read([1], 1), 1);
  sequencer.forget(1);
  assert.equal(read([1], 1), undefined);
  assert.deepEqual(delivered, ['remote 1']);
});

test('a seq missing from what was read (pruned, or a conversation deleted) is passed over, not waited for', () => {
  const { sequencer, delivered, local, read } = following(0);
  sequencer.logged(3);
  local(3);
  assert.equal(read([1], 2), undefined, 'the log accounts for 1 and 2; 2 is gone');
  assert.deepEqual(delivered, ['remote 1', 'local 3']);
  assert.equal(sequencer.through(), 3);
});

test('a local event at or below what was delivered (taken for another node\'s) still goes, logged as an error', () => {
  const { sequencer, delivered, local, read, lines } = following(0);
  assert.equal(read([1], 1), undefined);
  local(1);
  assert.deepEqual(delivered, ['remote 1', 'local 1']);
  assert.deepEqual(lines.filter((line) => line.level === 'error').map((line) => line.msg), ['an event was delivered out of order']);
});
