// Real Chromium: a page on another origin fetches the push key before login, logs in and registers a Web
// Push subscription through the event; once its tab is closed, a message reaches that subscription.
// Chromium cannot reach a real push service here, so the subscription object is the test's own.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { launchChromium } from './helpers/chromium.ts';
import { password, person, uniqueName } from './helpers/clients.ts';
import { pushServer, waitForPushes } from './helpers/push-server.ts';

const page = `<!doctype html>
<meta charset="utf-8">
<title>Parley push test</title>
<script>
  window.subscribe = async (api, username, password, subscription) => {
    const key = await (await fetch(api + '/push/key')).json();
    // What PushManager.subscribe() takes as applicationServerKey: the key's 65 bytes.
    const raw = Uint8Array.from(atob(key.public_key.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const post = (path, body) => fetch(api + path, { method: 'POST', credentials: 'include', body: JSON.stringify(body) }).then((res) => res.status);
    const registered = await post('/register', { username, password, fullname: 'Push User' });
    const loggedIn = await post('/auth/login', { username, password });
    const socket = new WebSocket(api.replace(/^http/, 'ws') + '/ws');
    await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
    const reply = new Promise((resolve) => { socket.onmessage = (event) => resolve(JSON.parse(event.data)); });
    socket.send(JSON.stringify({ type: 'register_device', kind: 'webpush', subscription, name: 'chromium', ref: 1 }));
    const device = await reply;
    await new Promise((resolve) => { socket.onclose = resolve; socket.close(); }); // away: no socket open
    return { key, keyBytes: raw.length, firstByte: raw[0], registered, loggedIn, device };
  };
</script>`;

test('a browser page fetches the push key, registers its subscription, and is notified once away', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const site = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page));
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  t.after(() => site.close());
  const siteOrigin = `http://localhost:${(site.address() as { port: number }).port}`;
  const setup = await pushServer(t, { CORS_ALLOW_ORIGIN: siteOrigin });
  const { server, service } = setup;
  const api = `http://localhost:${server.port}`;

  const tab = await browser.newPage();
  await tab.goto(siteOrigin);
  const username = uniqueName('pushpage');
  const subscription = { ...service.subscribe(), expirationTime: null };
  const result = (await tab.evaluate(
    ([api, username, password, subscription]) => (window as never as { subscribe: (...args: unknown[]) => Promise<unknown> }).subscribe(api, username, password, subscription),
    [api, username, password, subscription] as const,
  )) as { key: unknown; keyBytes: number; firstByte: number; registered: number; loggedIn: number; device: { type: string; success: boolean; data: { kind: string; name: string; push_service: string; current: boolean } } };
  assert.deepEqual(result.key, { public_key: setup.publicKey, webpush: true, webhook: true });
  assert.deepEqual([result.keyBytes, result.firstByte, result.registered, result.loggedIn], [65, 4, 201, 202]);
  assert.deepEqual([result.device.type, result.device.success, result.device.data.kind, result.device.data.name, result.device.data.push_service, result.device.data.current],
    ['register_device', true, 'webpush', 'chromium', service.host, true]);
  await tab.close();

  const alice = await person(server, 'alice');
  const group = await alice.client.request('create_conversation', { name: 'from the browser', members: [username] });
  const [got] = await waitForPushes(service, subscription, 1);
  assert.deepEqual(got!.payload, { kind: 'added', conversation_id: group.id, conversation_name: 'from the browser', direct: false, sender: alice.username, unread: 0 });
});
