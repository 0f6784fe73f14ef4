// Several servers as one: nodes started with the same DATABASE_URL and REDIS_URL deliver every logged
// event to the sockets of every node, each socket in increasing seq with none missing (checked against
// `sync`), whichever node committed it; with Redis away, and with PostgreSQL away and back.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { needs } from './helpers/installed.ts';
import { lastLines, runServerExpectingExit, testSecret, type TestServer } from './helpers/server.ts';
import { syncAll } from './helpers/clients.ts';
import { member, startNodes, tapped, type Member, type Tapped } from './helpers/cluster.ts';
import { answered, sleep, until } from './helpers/wait.ts';
import { createDatabase, postgresCluster } from './helpers/postgres.ts';
import { http } from './helpers/http.ts';
import { errors } from '../protocol/index.ts';

test('REDIS_URL without DATABASE_URL is refused at start', async () => {
  const { code, output } = await runServerExpectingExit({ REDIS_URL: 'redis://127.0.0.1:1', JWTSECRET: testSecret });
  assert.equal(code, 1);
  assert.match(output, /invalid settings: REDIS_URL needs DATABASE_URL: the nodes of a cluster share one PostgreSQL database \(a SQLite file belongs to one node\)/);
});

test('a message sent on one node reaches the members\' sockets on another with the same seq; NODE_ID is on every log line', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const [a, b] = (await startNodes(t, 2)) as unknown as [TestServer, TestServer];
  const alice = await member(a);
  const bob = await member(b);
  const aliceOnA = await tapped(a, alice);
  const bobOnB = await tapped(b, bob);
  const bobAlsoOnB = await tapped(b, bob);

  const created = await aliceOnA.client.call({ type: 'create_conversation', members: [bob.username] });
  assert.equal(created.success, true);
  const conversation = (created.data as { id: number }).id;
  const createdSeq = (created as { seq?: number }).seq!;
  await until('the conversation on node2', () => bobOnB.seqs.includes(createdSeq) && bobAlsoOnB.seqs.includes(createdSeq));
  assert.deepEqual(bobOnB.envelopes.find((envelope) => envelope.type === 'create_conversation'), { type: 'create_conversation', success: true, data: created.data, seq: createdSeq });

  const sent = await aliceOnA.client.call({ type: 'send_message', conversation_id: conversation, content: 'across nodes' });
  const sentSeq = (sent as { seq?: number }).seq!;
  await until('the message on node2', () => bobOnB.seqs.includes(sentSeq));
  const { ref: _, ...pushed } = sent;
  assert.deepEqual(bobOnB.envelopes.find((envelope) => envelope.type === 'send_message'), pushed);

  // Bob's sockets on node2 were subscribed to the conversation there when node2 followed its creation:
  // his message, published on node2, reaches his other socket there, and node1 follows it to Alice.
  const reply = await bobOnB.client.call({ type: 'send_message', conversation_id: conversation, content: 'and back' });
  const replySeq = (reply as { seq?: number }).seq!;
  await until('the answer on both nodes', () => bobAlsoOnB.seqs.includes(replySeq) && aliceOnA.seqs.includes(replySeq));
  // The logged events (delivered receipts may follow, half a second after the messages: a busy machine may get there first).
  const withoutReceipts = (socket: Tapped) => socket.envelopes.flatMap((envelope) => {
    const { seq } = envelope as { seq?: number };
    return seq === undefined || envelope.type === 'receipt' ? [] : [seq];
  });
  assert.deepEqual(withoutReceipts(aliceOnA), [createdSeq, sentSeq, replySeq]);
  assert.deepEqual(withoutReceipts(bobAlsoOnB), [createdSeq, sentSeq, replySeq]);

  for (const [node, id] of [[a, 'node1'], [b, 'node2']] as const) {
    assert.ok(node.logs.length > 0);
    assert.deepEqual(node.logs.filter((line) => line.node_id !== id), [], `every line of ${id} names it`);
    assert.ok(node.logs.some((line) => line.msg === 'joined the cluster'));
  }
});

test('concurrent senders on every node: each socket receives increasing seq with nothing missing, as sync has them', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const nodes = await startNodes(t, 3);
  const people = await Promise.all(nodes.map((node) => member(node)));
  // Every person has a socket on every node.
  const sockets = await Promise.all(people.flatMap((who) => nodes.map((node) => tapped(node, who))));
  const created = await sockets[0]!.client.request('create_conversation', { members: people.map((who) => who.username), kind: 'group' });
  const perSocket = 240; // 2,160 messages
  await Promise.all(
    sockets.map(async (socket, i) => {
      for (let n = 0; n < perSocket; n++) {
        const reply = await socket.client.call({ type: 'send_message', conversation_id: created.id, content: `${i}:${n}` });
        assert.equal(reply.success, true, JSON.stringify(reply));
      }
    }),
  );
  // Receipts follow the messages (logged events too): wait until the log and every socket have settled.
  const first = sockets[0]!.seqs[0]!;
  const logged = async () => (await syncAll(sockets[0]!.client)).map((event) => event.seq).filter((seq) => seq >= first);
  let all = await logged();
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    if (sockets.every((socket) => socket.seqs.length === all.length)) {
      const again = await logged();
      if (again.length === all.length) break;
      all = again;
    }
    await sleep(200);
    all = await logged();
  }
  assert.ok(all.length > sockets.length * perSocket, `${all.length} events logged`);
  t.diagnostic(`${sockets.length * perSocket} messages, ${all.length} logged events, on each of ${sockets.length} sockets in seq order`);
  for (const [i, socket] of sockets.entries()) assert.deepEqual(socket.seqs, all, `socket ${i} (node${(i % nodes.length) + 1})`);
  for (const node of nodes) assert.deepEqual(node.logs.filter((line) => line.level === 'error' || line.level === 'warn'), []);
});

/** Two nodes (with `env`): Alice's socket on node1 and Bob's on node2, in a conversation of theirs. */
async function pairAcross(t: TestContext, env: Record<string, string>) {
  const nodes = await startNodes(t, 2, env);
  const [a, b] = nodes as unknown as [TestServer, TestServer];
  const aliceOnA = await tapped(a, await member(a));
  const bob = await member(b);
  const bobOnB = await tapped(b, bob);
  const { id } = await aliceOnA.client.request('create_conversation', { members: [bob.username] });
  return { nodes, a, b, bob, aliceOnA, bobOnB, id };
}

const metricsToken = 'a metrics token for the cluster tests';
/** The cluster's series in a node's /metrics (and that a node alone has none). */
async function clusterMetrics(node: TestServer): Promise<Record<string, number>> {
  const scraped = await http(node.http, 'GET', '/metrics', { headers: { authorization: `Bearer ${metricsToken}` } });
  assert.equal(scraped.status, 200);
  return Object.fromEntries([...scraped.body.matchAll(/^(parley_redis_up|parley_cluster_\w+) (\S+)$/gm)].map((match) => [match[1]!, Number(match[2])]));
}

test('Redis away: messages still cross nodes (delivery follows PostgreSQL), in order; /metrics says whether Redis is reached, how many nodes beat and what was followed', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const { nodes, a, b, bob, aliceOnA, bobOnB, id } = await pairAcross(t, { METRICS_TOKEN: metricsToken });
  await until('the conversation on node2', () => bobOnB.seqs.length === 1);
  assert.deepEqual(await clusterMetrics(b), { parley_redis_up: 1, parley_cluster_nodes: 2, parley_cluster_waiting_events: 0, parley_cluster_followed_events_total: 1 }, 'node2 delivered node1\'s create_conversation');
  assert.deepEqual(await clusterMetrics(a), { parley_redis_up: 1, parley_cluster_nodes: 2, parley_cluster_waiting_events: 0, parley_cluster_followed_events_total: 0 });
  await nodes.redis.stop();
  assert.deepEqual(await clusterMetrics(a), { parley_redis_up: 0, parley_cluster_nodes: 2, parley_cluster_waiting_events: 0, parley_cluster_followed_events_total: 0 }, 'the node count as last read');
  const sent = [];
  for (let n = 0; n < 5; n++) sent.push((await aliceOnA.client.call({ type: 'send_message', conversation_id: id, content: `without redis ${n}` })) as { seq?: number });
  await until('the messages on node2', () => bobOnB.seqs.length === 6);
  assert.deepEqual(bobOnB.seqs.slice(1), sent.map((reply) => reply.seq));
  // A socket still opens (presence falls back to the node's own), and gets what follows.
  const late = await tapped(b, bob);
  const last = (await aliceOnA.client.call({ type: 'send_message', conversation_id: id, content: 'still without redis' })) as { seq?: number };
  await until('the last message on the new socket', () => late.seqs.includes(last.seq!));
  // Everything Bob's first socket received came from node1 (receipts too, which may still come): node2 followed each once.
  let followed = 0;
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(100)) {
    followed = (await clusterMetrics(b)).parley_cluster_followed_events_total!;
    if (followed === bobOnB.seqs.length) break;
  }
  assert.ok(followed >= 7, `at least the conversation and six messages: ${followed}`);
  assert.equal(followed, bobOnB.seqs.length);
  await nodes.redis.start();
  await until('Redis reached again', () => a.logs.some((line) => line.msg === 'redis available again'), 10_000);
  assert.equal((await clusterMetrics(a)).parley_redis_up, 1);
  // What is not logged crosses again once both nodes hear the bus: Bob's typing on node2 reaches Alice on node1.
  const typed = () => aliceOnA.envelopes.some((envelope) => envelope.type === 'typing');
  for (let attempt = 0, typing = true; !typed(); attempt++, typing = !typing) {
    assert.ok(attempt < 15, 'typing crossed within 10 s of Redis coming back');
    await bobOnB.client.request('typing', { conversation_id: id, is_typing: typing });
    await sleep(700);
  }
});

test('PostgreSQL away: every node refuses sends with unavailable and keeps its sockets; once it is back, messages cross nodes again in seq order, as sync has them', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const postgres = await postgresCluster(t); // its own: this test stops it
  const { a, b, aliceOnA, bobOnB, id } = await pairAcross(t, { DATABASE_URL: await createDatabase(postgres.url) });
  const before = (await aliceOnA.client.call({ type: 'send_message', conversation_id: id, content: 'before the outage' })) as { seq?: number };
  await until('the first message on node2', () => bobOnB.seqs.includes(before.seq!));

  await postgres.stop('immediate');
  // A send never answered (postgres-client.test.ts' todo) fails by name, with what the nodes said.
  const said = () => `the nodes' last lines:\n${lastLines(a, 30)}\n${lastLines(b, 30)}`;
  for (const socket of [aliceOnA, bobOnB]) {
    const { ref: _, ...reply } = await answered(socket.client.call({ type: 'send_message', conversation_id: id, content: 'during the outage' }), said);
    assert.deepEqual(reply, { type: 'send_message', success: false, error: errors.unavailable.text, code: 'unavailable' });
  }
  for (const node of [a, b]) assert.equal((await http(node.http, 'GET', '/readyz')).status, 503);
  await postgres.start();

  // Each side sends until its first message after the outage is taken, then some more; every one crosses.
  const sent: number[] = [];
  for (const [n, socket] of [aliceOnA, bobOnB, aliceOnA, bobOnB, aliceOnA].entries()) {
    for (let attempt = 0; ; attempt++) {
      const reply = (await answered(socket.client.call({ type: 'send_message', conversation_id: id, content: `after the outage ${n}`, client_id: `after-${n}` }), said)) as { success: boolean; code?: string; seq?: number };
      if (reply.success) {
        sent.push(reply.seq!);
        break;
      }
      assert.equal(reply.code, 'unavailable');
      assert.ok(attempt < 100, 'PostgreSQL came back within 10 s');
      await sleep(100);
    }
  }
  const all = (await syncAll(aliceOnA.client)).map((event) => event.seq);
  assert.ok(sent.every((seq) => all.includes(seq)) && all.includes(before.seq!), `${JSON.stringify(sent)} in ${JSON.stringify(all)}`);
  for (const [who, socket] of [['alice on node1', aliceOnA], ['bob on node2', bobOnB]] as const) {
    await until(`every message on ${who}`, () => sent.every((seq) => socket.seqs.includes(seq)), 10_000);
    // What arrived before the sync was asked: receipts logged meanwhile may be pushed before its reply, past its end.
    const arrived = [...socket.seqs];
    const logged = (await syncAll(socket.client)).map((event) => event.seq);
    assert.deepEqual(arrived, logged.slice(0, arrived.length), `${who}: what arrived is the log, in order, none missing`);
  }
  // Ready again (readiness is asked of the database at most once a second: an answer from the outage may stand that long).
  for (const node of [a, b]) {
    for (const deadline = Date.now() + 5000; (await http(node.http, 'GET', '/readyz')).status !== 200; await sleep(100)) {
      assert.ok(Date.now() < deadline, `${node.env.NODE_ID} ready again`);
    }
  }
  for (const node of [a, b]) assert.ok(node.logs.some((line) => line.level === 'warn' && line.msg === 'commit failed: the database is unavailable'), 'the log says why sends were refused');
});

test('members joining, leaving, removed and blocking on other nodes while everyone sends: each socket still gets exactly what sync has, in seq order', async (t) => {
  if (!needs(t, 'redis', 'postgres')) return;
  const nodes = await startNodes(t, 3);
  const people = await Promise.all(Array.from({ length: 6 }, (_, i) => member(nodes[i % 3]!)));
  const [owner, bob, carol, dave, erin, frank] = people as [Member, Member, Member, Member, Member, Member];
  // Everyone on a node of their own (i % 3); the owner on all three, acting on node2 and node3.
  const sockets = await Promise.all(people.map((who, i) => tapped(nodes[i % 3]!, who)));
  const ownerOnB = await tapped(nodes[1]!, owner);
  const ownerOnC = await tapped(nodes[2]!, owner);
  const group = await sockets[0]!.client.request('create_conversation', { name: 'churn', members: [bob.username, carol.username, dave.username], kind: 'group' });

  const removed = new Set<string>();
  const send = async (socket: Tapped, who: Member, count: number) => {
    for (let n = 0; n < count && !removed.has(who.username); n++) {
      const reply = (await socket.client.call({ type: 'send_message', conversation_id: group.id, content: `${who.username} ${n}` })) as { success: boolean; code?: string };
      if (!reply.success) {
        assert.ok(removed.has(who.username), JSON.stringify(reply));
        assert.equal(reply.code, 'not_found', JSON.stringify(reply)); // a conversation one is not in is not there
      }
    }
  };
  const pause = () => sleep(150);
  const churn = async () => {
    await pause();
    await ownerOnB.client.request('add_members', { conversation_id: group.id, members: [erin.username] });
    await pause();
    await ownerOnC.client.request('add_members', { conversation_id: group.id, members: [frank.username] });
    await pause();
    removed.add(dave.username);
    await ownerOnB.client.request('remove_member', { conversation_id: group.id, username: dave.username });
    await pause();
    await sockets[2]!.client.request('block_user', { username: bob.username }); // carol, on node3, blocks bob (node2)
    await pause();
    removed.add(erin.username);
    await sockets[4]!.client.request('leave_conversation', { conversation_id: group.id }); // erin, on node2
  };
  await Promise.all([
    send(sockets[0]!, owner, 150),
    send(sockets[1]!, bob, 150),
    send(sockets[2]!, carol, 150),
    send(sockets[3]!, dave, 150),
    (async () => {
      await pause();
      await pause();
      await send(sockets[4]!, erin, 40);
    })(),
    churn(),
  ]);

  const owners = [sockets[0]!, ownerOnB, ownerOnC];
  const mine = (socket: Tapped) => (owners.includes(socket) ? owner : people[sockets.indexOf(socket)]!);
  const all = [...sockets, ownerOnB, ownerOnC];
  // A block hides the blocked person's events from the blocker's sync, those before it too, and the
  // blocker's receipts from the blocked person's: Carol's and Bob's streams are compared with their
  // syncs from her block_user on (its seq: everything lower came before its reply).
  const carolsBlock = sockets[2]!.envelopes.findIndex((envelope) => envelope.type === 'block_user');
  assert.ok(carolsBlock > 0);
  const blockSeq = (sockets[2]!.envelopes[carolsBlock] as { seq?: number }).seq!;
  const since = (socket: Tapped) => (socket === sockets[2] || socket === sockets[1] ? blockSeq - 1 : 0);
  const received = (socket: Tapped) => socket.seqs.filter((seq) => seq > since(socket));
  // Receipts trail the messages (0.5 s): compare once every socket has had what its user's sync has for over a second.
  const logged = (socket: Tapped) => syncAll(socket.client, since(socket)).then((events) => events.map((event) => event.seq));
  let expected: number[][] = [];
  for (let deadline = Date.now() + 20_000, settled = 0; settled < 4 && Date.now() < deadline; await sleep(400)) {
    const before = expected.flat().length;
    expected = await Promise.all(all.map(logged));
    const caughtUp = all.every((socket, i) => received(socket).length === expected[i]!.length);
    settled = caughtUp && expected.flat().length === before ? settled + 1 : 0;
  }
  for (const [i, socket] of all.entries()) {
    // Named in the message: what arrived that sync has not, and what sync has that did not arrive.
    const extra = socket.envelopes.filter((envelope) => received(socket).includes((envelope as { seq?: number }).seq!) && !expected[i]!.includes((envelope as { seq?: number }).seq!));
    const missing = expected[i]!.filter((seq) => !received(socket).includes(seq));
    assert.deepEqual(received(socket), expected[i], `${mine(socket).username}'s socket ${i} (node${(i < 6 ? i % 3 : i - 5) + 1}): arrived, not in sync ${JSON.stringify(extra)}; in sync, not arrived ${JSON.stringify(missing)}`);
  }
  for (const socket of all) assert.deepEqual(socket.seqs, [...new Set(socket.seqs)].sort((x, y) => x - y), 'strictly increasing');
  // What the churn did is in those streams: Dave's ends at his removal, Carol has none of Bob's messages after blocking him.
  const contents = (socket: Pick<Tapped, 'envelopes'>) => socket.envelopes.flatMap((envelope) => (envelope.type === 'send_message' && 'data' in envelope ? [(envelope.data as { content: string }).content] : []));
  assert.deepEqual(contents({ envelopes: sockets[2]!.envelopes.slice(carolsBlock) }).filter((text) => text.startsWith(`${bob.username} `)), []);
  assert.ok(contents(sockets[1]!).filter((text) => text.startsWith(`${carol.username} `)).length > 0, 'bob still sees carol');
  assert.ok(sockets[3]!.envelopes.some((envelope) => envelope.type === 'remove_member'), 'dave was told');
  for (const node of nodes) assert.deepEqual(node.logs.filter((line) => line.level === 'error'), []);
});
