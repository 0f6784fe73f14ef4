// Real Chromium: a page using the single-file client build keeps a conversation going while the
// server is killed and restarted, and its last seq lives in localStorage; the page in docs/client.md works as printed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './helpers/server.ts';
import { launchChromium } from './helpers/chromium.ts';
import { password, register, uniqueName } from './helpers/clients.ts';
import { startProxy } from './helpers/proxy.ts';
import { live, logOf, said, signIn } from './helpers/connected.ts';
import { sleep, until } from './helpers/wait.ts';
import { bundlePath } from '../protocol/build.ts';
import { login } from '../protocol/connect.ts';

type Page = {
  events: { type: string; seq?: number; content?: string }[];
  states: { status: string }[];
  ids: number[];
};

// The page's whole app: log in, connect, show what comes, say things.
const page = `<!doctype html>
<meta charset="utf-8">
<title>Parley client in a browser</title>
<script type="module">
  import { connect, login, refreshLogin } from './parley-client.js';
  const app = (window.app = { events: [], states: [], ids: [] });
  window.start = async (api, username, password) => {
    await login(api, username, password);
    const client = (window.client = connect({ url: api, backoff: { baseMs: 100, maxMs: 1000 } }));
    client.onState((state) => app.states.push(state));
    for (const type of ['create_conversation', 'send_message', 'receipt']) {
      client.on(type, (data, { seq }) => app.events.push({ type, seq, content: data.content }));
    }
    client.on('reset', () => app.events.push({ type: 'reset' }));
  };
  window.say = (conversation_id, content) => window.client.request('send_message', { conversation_id, content }).then((message) => app.ids.push(message.id));
  window.refresh = (api) => refreshLogin(api).then(() => 'refreshed');
</script>`;

const contents = (events: Page['events']) => events.filter((event) => event.type === 'send_message').map((event) => event.content!);

/** Serves a page and the single-file build beside it; answers the site's origin. */
async function serveSite(t: TestContext, html: () => string): Promise<string> {
  const bundle = readFileSync(bundlePath);
  const site = createServer((req, res) => {
    if (req.url === '/parley-client.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html());
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  t.after(() => site.close());
  return `http://localhost:${(site.address() as { port: number }).port}`;
}

test('a page using the single-file build keeps a conversation going while the server restarts', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const siteOrigin = await serveSite(t, () => page);
  const dir = mkdtempSync(join(tmpdir(), 'parley-browser-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let server = await startServer(t, { CORS_ALLOW_ORIGIN: siteOrigin }, dir);
  const proxy = await startProxy(t, server.port);
  const api = `http://localhost:${proxy.port}`;

  const bob = await signIn(server, proxy.url, 'bob');
  const bobApp = live(proxy.url, bob.cookies);
  t.after(() => bobApp.client.close());
  const username = uniqueName('page');
  await register(server, username);

  const tab = await browser.newPage();
  await tab.goto(siteOrigin);
  await tab.evaluate(([api, username, password]) => (window as never as { start: (...args: string[]) => Promise<void> }).start(api!, username!, password!), [api, username, password]);
  const app = () => tab.evaluate(() => (window as never as { app: Page }).app);
  const say = (conversation: number, content: string) =>
    tab.evaluate(([conversation, content]) => void (window as never as { say: (id: unknown, text: unknown) => Promise<void> }).say(conversation, content), [conversation, content] as const);
  const both = async (expected: string[]) => {
    await until(() => said(bobApp), () => said(bobApp).length >= expected.length, 15_000);
    await tab.waitForFunction((count) => (window as never as { app: Page }).app.events.filter((event) => event.type === 'send_message').length >= count, expected.length, { timeout: 15_000 });
    assert.deepEqual(said(bobApp), expected);
    assert.deepEqual(contents((await app()).events), expected);
  };

  const room = await bobApp.client.request('create_conversation', { members: [username] });
  await say(room.id, 'hello from the page');
  await both(['hello from the page']);
  await bobApp.client.request('send_message', { conversation_id: room.id, content: 'hello from bob' });
  await both(['hello from the page', 'hello from bob']);

  await server.stop('SIGKILL');
  // Said while the server is down: each waits in its client and goes out once it is back.
  await say(room.id, 'are you there?');
  await say(room.id, 'the server is down');
  const bobLater = bobApp.client.request('send_message', { conversation_id: room.id, content: 'still here' });
  await tab.waitForFunction(() => (window as never as { app: Page }).app.states.some((state) => state.status === 'reconnecting'));
  server = await startServer(t, { CORS_ALLOW_ORIGIN: siteOrigin }, dir);
  proxy.retarget(server.port);
  await bobLater;
  await until(() => said(bobApp), () => said(bobApp).length >= 5, 15_000);
  const afterRestart = said(bobApp);
  assert.deepEqual(afterRestart.filter((content) => content !== 'still here'), ['hello from the page', 'hello from bob', 'are you there?', 'the server is down']);
  assert.equal(afterRestart.filter((content) => content === 'still here').length, 1);
  await both(afterRestart);

  // The browser keeps the cookies: a refresh from the page renews them, and the next socket uses them.
  assert.equal(await tab.evaluate((api) => (window as never as { refresh: (api: string) => Promise<string> }).refresh(api), api), 'refreshed');
  proxy.cut();
  await say(room.id, 'after the refresh');
  await both([...afterRestart, 'after the refresh']);

  await sleep(1000); // the last receipts
  const seen = await app();
  assert.equal(new Set(seen.ids).size, 4, 'each message the page said was stored once');
  const statuses = seen.states.map((state) => state.status);
  assert.ok(statuses.includes('reconnecting') && statuses.at(-1) === 'open', statuses.join());
  // The page's stream is the server's log for its user, and its last seq is in localStorage.
  const log = await logOf(server, await login(server.http, username, password));
  const delivered = seen.events.filter((event) => event.seq !== undefined);
  assert.deepEqual(delivered.map((event) => [event.type, event.seq]), log.map((event) => [event.type, event.seq]));
  assert.equal(await tab.evaluate((key) => localStorage.getItem(key), `parley:last-seq:${username}`), String(delivered.at(-1)?.seq));
});

test('tabs of one browser refreshing at once take turns (Web Locks): each sends the token the one before set, none needs the grace', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const siteOrigin = await serveSite(t, () => page);
  const server = await startServer(t, { CORS_ALLOW_ORIGIN: siteOrigin });
  const api = `http://localhost:${server.port}`;
  const username = uniqueName('tabs');
  await register(server, username);
  const context = await browser.newContext(); // one cookie jar for its tabs, as a browser profile has
  t.after(() => context.close());
  const tabs = [await context.newPage(), await context.newPage(), await context.newPage()];
  for (const tab of tabs) await tab.goto(siteOrigin);
  await tabs[0]!.evaluate(([api, username, password]) => (window as never as { start: (...args: string[]) => Promise<void> }).start(api!, username!, password!), [api, username, password]);
  await tabs[0]!.waitForFunction(() => (window as never as { app: Page }).app.states.some((state) => state.status === 'open'));
  const refreshed = await Promise.all(tabs.map((tab) => tab.evaluate((api) => (window as never as { refresh: (api: string) => Promise<string> }).refresh(api), api)));
  assert.deepEqual(refreshed, ['refreshed', 'refreshed', 'refreshed']);
  assert.deepEqual(server.logs.filter((line) => line.msg === 'refresh token taken again in its grace'), [], 'three rotations one after the other');
  assert.equal(await tabs[0]!.evaluate(() => (window as never as { client: { state: { status: string } } }).client.state.status), 'open');
});

test('the plain page of docs/client.md logs in, talks and hears the answer, as printed', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const guide = readFileSync(new URL('../docs/client.md', import.meta.url), 'utf8');
  const example = guide.split('```html\n')[1]!.split('```')[0]!;
  let api = '';
  const siteOrigin = await serveSite(t, () => example.replace("'http://localhost:8000'", `'${api}'`));
  const server = await startServer(t, { CORS_ALLOW_ORIGIN: siteOrigin });
  api = `http://localhost:${server.port}`;
  const bob = await signIn(server, server.http, 'bob');
  const bobApp = live(server.http, bob.cookies);
  t.after(() => bobApp.client.close());
  const username = uniqueName('reader');
  await register(server, username);

  const tab = await browser.newPage();
  await tab.goto(siteOrigin);
  await tab.fill('input[name=username]', username);
  await tab.fill('input[name=password]', password);
  await tab.fill('input[name=peer]', bob.username);
  await tab.click('text=Log in');
  await tab.waitForFunction(() => document.querySelector('#state')?.textContent === 'open');
  await tab.fill('input[name=text]', 'Hello from the docs');
  await tab.press('input[name=text]', 'Enter');
  await until(() => said(bobApp), () => said(bobApp).includes('Hello from the docs'));
  const room = bobApp.delivered.find((event) => event.type === 'create_conversation')!.data as { id: number };
  await bobApp.client.request('send_message', { conversation_id: room.id, content: 'Hello, page' });
  await tab.waitForFunction(() => document.querySelectorAll('#messages li').length === 2);
  assert.deepEqual(await tab.$$eval('#messages li', (lines) => lines.map((line) => line.textContent)), [`${username}: Hello from the docs`, `${bob.username}: Hello, page`]);
});
