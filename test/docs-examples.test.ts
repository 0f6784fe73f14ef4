// The docs' chats run as printed: their curl commands through sh, their wscat transcripts over real sockets.
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import { http, tokenFrom } from './helpers/http.ts';
import { blockWith, page, replay, runShell, transcript, wscat } from './helpers/examples.ts';

async function loggedIn(base: string, username: string, password: string): Promise<string> {
  return tokenFrom(await http(base, 'POST', '/auth/login', { body: { username, password } }));
}

test("the README's first chat: curl, then wscat", async (t) => {
  const server = await startServer(t);
  const cwd = mkdtempSync(join(tmpdir(), 'parley-docs-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  const readme = page('README.md');
  runShell(blockWith(readme, 'sh', 'localhost:8000/register'), server.http, cwd);
  const alice = await wscat(server.ws, await loggedIn(server.http, 'alice', 'wonderland'));
  t.after(() => alice.close());
  await replay([{ name: 'alice', socket: alice, lines: transcript(blockWith(readme, 'text', '"content":"Hello, Bob!"')) }]);
});

test("Getting started's session: Alice's and Bob's terminals side by side", async (t) => {
  const server = await startServer(t);
  const cwd = mkdtempSync(join(tmpdir(), 'parley-docs-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  const guide = page('docs/getting-started.md');
  runShell(blockWith(guide, 'sh', 'localhost:8000/register'), server.http, cwd);
  const alice = await wscat(server.ws, await loggedIn(server.http, 'alice', 'wonderland'));
  const bob = await wscat(server.ws, await loggedIn(server.http, 'bob', 'builder123'));
  t.after(() => { alice.close(); bob.close(); });
  await replay([
    { name: 'alice', socket: alice, lines: transcript(blockWith(guide, 'text', '> {"type":"add_contact"')) },
    { name: 'bob', socket: bob, lines: transcript(blockWith(guide, 'text', '"content":"Hi Alice","reply_id":1}')) },
  ]);
});
