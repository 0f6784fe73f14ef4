// Two-factor login across the nodes of a cluster: a code taken on one node is refused on another, and
// wrong codes are counted over every node, as wrong passwords are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Secret, TOTP } from 'otpauth';
import { needs } from './helpers/installed.ts';
import { startNodes } from './helpers/cluster.ts';
import type { TestServer } from './helpers/server.ts';
import { http } from './helpers/http.ts';
import { password, person } from './helpers/clients.ts';

const code = (secret: string, step: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: step * 30_000 });

test('a code is taken once over the cluster, and wrong codes are counted over every node', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const nodes = await startNodes(t, 2, { LOGIN_MAX_FAILURES: '4' });
  const [one, two] = [nodes[0]!, nodes[1]!];
  const alice = await person(one, 'alice');
  const { secret } = await alice.client.request('enable_2fa', { password });
  const step = Math.floor(Date.now() / 30_000);
  await alice.client.request('confirm_2fa', { code: code(secret, step) });
  const logIn = (node: TestServer, given: string) => http(node.http, 'POST', '/auth/login', { body: { username: alice.username, password, code: given } });

  const next = code(secret, step + 1);
  assert.deepEqual([(await logIn(two, next)).status], [202]);
  const again = await logIn(one, next);
  assert.deepEqual([again.status, again.body], [401, 'invalid code'], 'used on the other node');

  // Wrong codes in turn on both nodes: counted on each alone, 7 more would be checked before a wait.
  const near = [-1, 0, 1, 2].map((delta) => code(secret, step + delta));
  const wrong = ['000000', '111111', '222222', '333333', '444444'].find((given) => !near.includes(given))!;
  let checked = 0;
  let answer = await logIn(one, wrong);
  for (let i = 1; answer.status === 401 && i <= 8; i++) {
    checked++;
    answer = await logIn(i % 2 === 0 ? one : two, wrong);
  }
  assert.equal(answer.status, 429, answer.body);
  assert.match(answer.body, /^too many wrong codes: retry in \d+ seconds?$/);
  // LOGIN_MAX_FAILURES (4) over both nodes, the replayed code among them; one more only if a busy machine
  // let the 1 s wait after the fourth run out.
  assert.ok(checked === 3 || checked === 4, `${checked} wrong codes checked before the wait`);
});
