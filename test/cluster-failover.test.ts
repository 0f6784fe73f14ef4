// Three nodes behind a real nginx (the site docs/cluster.md describes: parley.conf with parley-nodes.conf's upstream, no
// sticky sessions), clients going in only through it: messages and presence reach everyone whichever
// node they landed on, a node killed with SIGKILL under load loses nothing and doubles nothing, and
// files uploaded on one node download from the others (one FILES_DIR shared).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { needs } from './helpers/installed.ts';
import { exchange, type BytesResult } from './helpers/bytes.ts';
import type { TestServer } from './helpers/server.ts';
import { member, tapped, type Tapped } from './helpers/cluster.ts';
import { sleep, until } from './helpers/wait.ts';
import { syncAll } from './helpers/clients.ts';
import { live, logged, opened, said } from './helpers/connected.ts';
import { landed, nodesBehindNginx } from './helpers/cluster-nginx.ts';

const statuses = (socket: Tapped) => socket.envelopes.filter((envelope) => envelope.type === 'user_status').map((envelope) => (envelope as { data: { username: string; is_online: boolean } }).data);
const withoutRef = ({ ref: _, ...envelope }: { ref?: unknown }) => envelope;

test('through nginx: sockets spread over the nodes, every member gets every message with the same seq, presence crosses nodes, a message resent on another node is stored once', async (t) => {
  if (!needs(t, 'redis', 'postgres', 'nginx')) return;
  const cluster = await nodesBehindNginx(t, 3);
  const people = [];
  for (let i = 0; i < 4; i++) people.push(await member(cluster));
  const [alice, ...others] = people as [typeof people[0], ...typeof people];
  const aliceSocket = await tapped(cluster, alice);
  for (const other of others) await aliceSocket.client.request('add_contact', { contact_username: other.username });
  const sockets = [aliceSocket];
  for (const other of others) sockets.push(await tapped(cluster, other));

  // least_conn: each socket went to a node with the fewest open, so the first three are on three nodes.
  const where = people.map((who) => landed(cluster.nodes, who.username));
  t.diagnostic(`sockets landed on ${where.map((ids) => ids.join()).join(', ')}`);
  assert.ok(where.every((ids) => ids.length === 1), 'one socket each');
  assert.deepEqual(new Set(where.slice(0, 3).flat()), new Set(['node1', 'node2', 'node3']));

  await until('the others online for alice', () => statuses(aliceSocket).length === others.length);
  const online = (who: typeof alice, is_online: boolean) => ({ username: who.username, is_online, status: is_online ? 'online' : 'offline', status_text: '' });
  assert.deepEqual(statuses(aliceSocket).sort((a, b) => a.username.localeCompare(b.username)), others.map((who) => online(who, true)).sort((a, b) => a.username.localeCompare(b.username)));

  const created = await aliceSocket.client.call({ type: 'create_conversation', members: others.map((who) => who.username), kind: 'group' });
  assert.equal(created.success, true, JSON.stringify(created));
  const { id } = created.data as { id: number };
  const replies = [withoutRef(created)];
  for (const [i, socket] of sockets.entries()) {
    const reply = await socket.client.call({ type: 'send_message', conversation_id: id, content: `from ${people[i]!.username} on ${where[i]![0]}` });
    assert.equal(reply.success, true, JSON.stringify(reply));
    replies.push(withoutRef(reply));
  }
  const logged = (socket: Tapped) => socket.envelopes.filter((envelope) => envelope.type === 'create_conversation' || envelope.type === 'send_message').map(withoutRef);
  await until('every message on every socket', () => sockets.every((socket) => logged(socket).length === replies.length));
  for (const [i, socket] of sockets.entries()) assert.deepEqual(logged(socket), replies, `${people[i]!.username} on ${where[i]![0]}`);

  // The last socket of a user on another node than alice's closes: offline for her.
  const leaving = others.findIndex((_, i) => where[i + 1]![0] !== where[0]![0]);
  sockets[leaving + 1]!.client.close();
  await until('offline for alice', () => statuses(aliceSocket).length === others.length + 1);
  assert.deepEqual(statuses(aliceSocket).at(-1), online(others[leaving]!, false));

  // A message sent again under its client_id on another node (a client whose node died before it
  // answered) is answered with the message as stored, which is stored and logged once.
  const sent = await aliceSocket.client.call({ type: 'send_message', conversation_id: id, content: 'once', client_id: 'retried-1' });
  assert.equal(sent.success, true, JSON.stringify(sent));
  const aliceAgain = await tapped(cluster, alice);
  const aliceWhere = landed(cluster.nodes, alice.username);
  assert.notEqual(aliceWhere[1], aliceWhere[0], 'her second socket is on another node');
  const resent = await aliceAgain.client.call({ type: 'send_message', conversation_id: id, content: 'once', client_id: 'retried-1' });
  assert.deepEqual(withoutRef(resent), { type: 'send_message', success: true, data: (sent as { data: unknown }).data });
  const log = await syncAll(aliceAgain.client);
  assert.deepEqual(log.filter((event) => (event.data as { content?: string }).content === 'once').map((event) => event.seq), [(sent as { seq?: number }).seq]);
});

test('a node killed with SIGKILL under load: clients reconnect through nginx to the others and end with every message once, in seq order, as sync has it; the node started again serves', async (t) => {
  if (!needs(t, 'redis', 'postgres', 'nginx')) return;
  const cluster = await nodesBehindNginx(t, 3);
  const people = [];
  for (let i = 0; i < 6; i++) people.push(await member(cluster));
  const options = { WebSocket: cluster.WebSocket, ping: { everyMs: 1000, timeoutMs: 2000 } };
  const apps = people.map((who) => live(cluster.http, who.cookies, options));
  t.after(() => apps.forEach((app) => app.client.close()));
  await Promise.all(apps.map((app) => opened(app)));
  const room = await apps[0]!.client.request('create_conversation', { members: people.slice(1).map((who) => who.username), kind: 'group' });

  // The victim: the node with most of the clients' sockets.
  const first = people.map((who) => landed(cluster.nodes, who.username)[0]!);
  const counts = ['node1', 'node2', 'node3'].map((id) => first.filter((node) => node === id).length);
  const victim = counts.indexOf(Math.max(...counts));
  const onVictim = people.flatMap((_, i) => (first[i] === `node${victim + 1}` ? [i] : []));
  t.diagnostic(`clients on ${first.join(', ')}: node${victim + 1} is killed`);
  assert.ok(onVictim.length >= 2, 'the victim has clients to lose');

  // Every client sends a stream of messages (each with its client_id), in bursts. Once a third of them
  // are answered, the victim is killed the moment one of its clients has just sent a burst: those
  // messages are under way (sent, not answered) whatever the nodes' speed.
  const perSender = 80;
  const burst = 5;
  const total = apps.length * perSender;
  const requests: Promise<{ id: number; content: string }>[] = [];
  const unanswered = apps.map(() => 0);
  let killed: Promise<unknown> | undefined;
  let killedAt = 0;
  let cutOff: number[] = [];
  const senders = apps.map(async (app, i) => {
    for (let n = 0; n < perSender; n++) {
      unanswered[i]!++;
      requests.push(app.client.request('send_message', { conversation_id: room.id, content: `${i}:${n}` }).finally(() => unanswered[i]!--));
      if (n % burst !== burst - 1) continue;
      if (!killed && onVictim.includes(i) && requests.length - unanswered.reduce((a, b) => a + b) >= total / 3) {
        cutOff = onVictim.map((k) => unanswered[k]!);
        killed = cluster.nodes[victim]!.stop('SIGKILL');
        killedAt = performance.now();
      }
      await sleep(30);
    }
  });
  await Promise.all(senders);
  assert.ok(killed, 'the victim was killed while its clients sent');
  assert.equal(await killed, 'SIGKILL');
  const stored = await Promise.all(requests);
  t.diagnostic(`unanswered on the victim's clients at the kill: ${cutOff.join(', ')}; all ${total} answered ${Math.round(performance.now() - killedAt)} ms after it`);
  assert.ok(cutOff.some((count) => count > 0), 'the kill cut off messages under way');

  // Every message sent was stored, each once (the retries of those in flight carried their client_id).
  const expected = apps.flatMap((_, i) => Array.from({ length: perSender }, (_, n) => `${i}:${n}`)).sort();
  assert.deepEqual(stored.map((message) => message.content).sort(), expected);
  assert.equal(new Set(stored.map((message) => message.id)).size, stored.length, 'one id per message');
  for (const i of onVictim) {
    assert.ok(apps[i]!.states.some((state) => state.status === 'reconnecting'), `client ${i} lost its socket`);
    assert.ok(landed(cluster.nodes, people[i]!.username).slice(1).every((id) => id !== `node${victim + 1}`), `client ${i} reconnected to another node`);
  }

  // Each client was given exactly the log as sync has it (receipts follow the messages: wait until it is still).
  const readers = await Promise.all(people.map((who) => tapped(cluster, who)));
  const logs = async () => Promise.all(readers.map(async (reader) => (await syncAll(reader.client)).map(({ type, data, seq }) => ({ type, data, seq }))));
  let truth = await logs();
  for (const deadline = Date.now() + 20_000; ; ) {
    await sleep(600);
    const again = await logs();
    const still = again.every((log, i) => log.length === truth[i]!.length);
    truth = again;
    if (still && apps.every((app, i) => logged(app.delivered).length === truth[i]!.length)) break;
    if (Date.now() > deadline) assert.fail(`not settled: ${apps.map((app, i) => `${logged(app.delivered).length}/${truth[i]!.length}`).join(' ')}`);
  }
  for (const [i, app] of apps.entries()) {
    const seqs = logged(app.delivered).map((event) => event.seq!);
    assert.ok(seqs.every((seq, k) => k === 0 || seq > seqs[k - 1]!), `client ${i}: seq strictly increasing`);
    assert.deepEqual(logged(app.delivered), truth[i], `client ${i} was given what sync returns`);
    const messages = truth[i]!.filter((event) => event.type === 'send_message').map((event) => event.data as { id: number; content: string });
    assert.deepEqual(messages.map((message) => message.content).sort(), expected, `client ${i}: each message once`);
    assert.deepEqual(messages.map((message) => message.id).sort((a, b) => a - b), stored.map((message) => message.id).sort((a, b) => a - b));
  }

  // Started again on its port (and NODE_ID): once nginx tries it again (it passes a failed node over for
  // 5 s) new sockets go to it, the node with the fewest, and it serves them. A probe that went elsewhere
  // is closed before the next: on a slow machine the wait outlasts MAX_SOCKETS_PER_USER (16) probes.
  const back = await cluster.restart(victim);
  const newcomer = await member(cluster);
  await apps[0]!.client.request('add_members', { conversation_id: room.id, members: [newcomer.username] });
  let probe: Tapped | undefined;
  for (const deadline = Date.now() + 15_000; !probe; ) {
    const socket = await tapped(cluster, newcomer);
    if (back.logs.some((line) => line.msg === 'connected' && line.user === newcomer.username)) probe = socket;
    else if (Date.now() > deadline) assert.fail(`no socket through nginx went to node${victim + 1} again`);
    else {
      socket.client.close();
      await socket.client.closed;
      await sleep(250);
    }
  }
  const heard = await apps[1]!.client.request('send_message', { conversation_id: room.id, content: 'to the node started again' });
  await until('the message on the node started again', () => probe.envelopes.some((envelope) => envelope.type === 'send_message'));
  assert.deepEqual(probe.envelopes.find((envelope) => envelope.type === 'send_message'), { type: 'send_message', success: true, data: heard, seq: probe.seqs.at(-1) });
  const answer = await probe.client.request('send_message', { conversation_id: room.id, content: 'from the node started again' });
  await until('the answer on every client', () => apps.every((app) => said(app).at(-1) === answer.content));
  for (const node of cluster.nodes) assert.deepEqual(node.logs.filter((line) => line.level === 'error'), [], node.env.NODE_ID);
});

test('files across nodes: with one FILES_DIR, a file uploaded on one node downloads, with its thumbnail, from the others, and through nginx', async (t) => {
  if (!needs(t, 'redis', 'postgres', 'nginx')) return;
  const cluster = await nodesBehindNginx(t, 3);
  const [node1, node2, node3] = cluster.nodes as [TestServer, TestServer, TestServer];
  const alice = await member(cluster);
  const cookie = { cookie: `login-token=${alice.token}` };
  // Random pixels: a PNG that does not shrink, larger than the 64 KiB of an ordinary request body.
  const picture = (seed: number) => sharp(randomBytes(200 * 200 * 3).map((byte) => byte ^ seed), { raw: { width: 200, height: 200, channels: 3 } }).png().toBuffer();
  const json = (result: BytesResult) => JSON.parse(result.body.toString()) as { id: string; size: number; sha256: string };
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

  async function downloads(entry: { http: string; ca?: string }, file: { id: string; size: number; sha256: string }): Promise<void> {
    const whole = await exchange(entry.http, 'GET', `/files/${file.id}`, { headers: cookie, ca: entry.ca });
    assert.equal(whole.status, 200, whole.body.toString());
    assert.deepEqual([whole.headers['content-type'], whole.body.length, sha256(whole.body)], ['image/png', file.size, file.sha256]);
    const thumbnail = await exchange(entry.http, 'GET', `/files/${file.id}/thumbnail`, { headers: cookie, ca: entry.ca });
    assert.equal(thumbnail.status, 200, thumbnail.body.toString());
    assert.equal(thumbnail.headers['content-type'], 'image/webp');
    assert.equal((await sharp(thumbnail.body).metadata()).format, 'webp');
  }

  const bytes = await picture(0);
  assert.ok(bytes.length > 64 * 1024, `${bytes.length} bytes`);
  const uploaded = await exchange(node1.http, 'POST', '/files?filename=noise.png', { body: bytes, headers: { ...cookie, 'content-type': 'image/png' } });
  assert.equal(uploaded.status, 201, uploaded.body.toString());
  const file = json(uploaded);
  assert.deepEqual(JSON.parse(uploaded.body.toString()), {
    id: file.id, name: 'noise.png', size: file.size, type: 'image/png', sha256: file.sha256, width: 200, height: 200,
    received: { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') },
  });
  await downloads(node2, file);
  await downloads(node3, file);

  // Through nginx, as clients do: the site takes uploads up to MAX_UPLOAD_BYTES, not only 64 KiB.
  const through = await exchange(cluster.http, 'POST', '/files?filename=noise.png', { body: await picture(1), headers: { ...cookie, 'content-type': 'image/png' }, ca: cluster.ca });
  assert.equal(through.status, 201, through.body.toString());
  await downloads(cluster, json(through));
  for (const node of [node1, node2, node3]) assert.deepEqual(node.logs.filter((line) => line.msg === 'stored bytes are missing'), []);
});
