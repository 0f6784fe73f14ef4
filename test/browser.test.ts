// Real Chromium: a page on another origin registers, logs in with cookies, opens the socket and hears a contact's presence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers/server.ts';
import { launchChromium, servePage } from './helpers/chromium.ts';
import { person, socket, uniqueName, password } from './helpers/clients.ts';

// The page's own script: everything a single-page app does before it can chat.
const page = `<!doctype html>
<meta charset="utf-8">
<title>Parley browser test</title>
<script>
  window.events = [];
  window.start = async (api, username, password) => {
    const post = (path, body) => fetch(api + path, {
      method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    }).then(async (res) => [res.status, await res.text()]);
    const registered = await post('/register', { username, password, fullname: 'Browser User' });
    const loggedIn = await post('/auth/login', { username, password });
    const verify = await fetch(api + '/auth/verify', { credentials: 'include' });
    const verified = [verify.status, await verify.text()];
    const socket = new WebSocket(api.replace(/^http/, 'ws') + '/ws');
    window.socket = socket;
    socket.onmessage = (event) => window.events.push(JSON.parse(event.data));
    socket.onclose = (event) => window.events.push({ closed: event.code, reason: event.reason });
    await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
    socket.send(JSON.stringify({ type: 'self', ref: 'who-am-i' }));
    return { registered, loggedIn, verified, cookieVisible: document.cookie.includes('login-token') };
  };
</script>`;

test('a browser page on another origin logs in and sees presence live', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const siteOrigin = await servePage(t, page);
  const server = await startServer(t, { CORS_ALLOW_ORIGIN: siteOrigin });
  const api = `http://localhost:${server.port}`;

  const tab = await browser.newPage();
  await tab.goto(siteOrigin);

  const username = uniqueName('browser');
  const result = await tab.evaluate(([api, username, password]) => (window as never as { start: (...args: string[]) => Promise<unknown> }).start(api!, username!, password!), [api, username, password]);
  assert.deepEqual(result, {
    registered: [201, 'registered'],
    loggedIn: [202, 'login successful'],
    verified: [200, `Hello, ${username}`],
    cookieVisible: false, // HttpOnly: page scripts cannot read the token
  });

  const events = () => tab.evaluate(() => (window as never as { events: { type?: string; ref?: string; data?: { username?: string; is_online?: boolean } }[] }).events);
  await tab.waitForFunction(() => (window as never as { events: { ref?: string }[] }).events.some((event) => event.ref === 'who-am-i'));
  const self = (await events()).find((event) => event.ref === 'who-am-i');
  assert.deepEqual([self?.type, self?.data?.username, self?.data?.is_online], ['self', username, true]);

  const bob = await person(server, 'bob');
  await bob.client.request('add_contact', { contact_username: username });
  await tab.waitForFunction(() => (window as never as { events: { type?: string }[] }).events.some((event) => event.type === 'contact_added'));
  bob.client.close();
  await bob.client.closed;
  await socket(server, bob.token);
  await tab.waitForFunction(
    (name) => (window as never as { events: { type?: string; data?: { username?: string; is_online?: boolean } }[] }).events.filter((event) => event.type === 'user_status' && event.data?.username === name).length === 2,
    bob.username,
  );
  const statuses = (await events()).filter((event) => event.type === 'user_status');
  assert.deepEqual(statuses, [
    { type: 'user_status', success: true, data: { username: bob.username, is_online: false, status: 'offline', status_text: '' } },
    { type: 'user_status', success: true, data: { username: bob.username, is_online: true, status: 'online', status_text: '' } },
  ]);
  assert.ok(server.logs.some((line) => line.msg === 'connected' && line.user === username));
});
