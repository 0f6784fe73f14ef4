// Real Chromium: a page on an allowed origin uploads a picture with FormData and sends it; the other member's page gets the push and shows the thumbnail from its url.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { startServer } from './helpers/server.ts';
import { launchChromium, servePage } from './helpers/chromium.ts';
import { uniqueName, password } from './helpers/clients.ts';

// What a chat app's page does: sign in, open the socket, upload with FormData, and show a picture with the cookie.
const page = `<!doctype html>
<meta charset="utf-8">
<title>Parley files in a browser</title>
<script>
  window.events = [];
  window.start = async (api, username, password) => {
    const post = (path, body) => fetch(api + path, { method: 'POST', credentials: 'include', body: JSON.stringify(body) });
    await post('/register', { username, password, fullname: username });
    await post('/auth/login', { username, password });
    const socket = new WebSocket(api.replace(/^http/, 'ws') + '/ws');
    window.socket = socket;
    socket.onmessage = (event) => window.events.push(JSON.parse(event.data));
    await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
  };
  window.request = (frame) => new Promise((resolve) => {
    const ref = String(Math.random());
    const seen = window.events.length;
    window.socket.send(JSON.stringify({ ...frame, ref }));
    const look = () => {
      const reply = window.events.slice(seen).find((event) => event.ref === ref);
      if (reply) resolve(reply); else setTimeout(look, 10);
    };
    look();
  });
  window.upload = async (api) => {
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 48;
    const context = canvas.getContext('2d');
    context.fillStyle = '#c33';
    context.fillRect(0, 0, 64, 48);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const form = new FormData();
    form.append('file', blob, 'red square.png');
    const response = await fetch(api + '/files', { method: 'POST', body: form, credentials: 'include' });
    return { status: response.status, body: await response.json() };
  };
  window.show = (api, url) => new Promise((resolve) => {
    const image = new Image();
    image.crossOrigin = 'use-credentials';
    image.onload = () => resolve({ width: image.naturalWidth, height: image.naturalHeight });
    image.onerror = () => resolve({ error: url });
    image.src = new URL(url, api).href;
    document.body.append(image);
  });
</script>`;

type Frame = { type: string; success?: boolean; data?: Record<string, unknown>; ref?: string };
type PageWindow = {
  events: Frame[];
  start(api: string, username: string, password: string): Promise<void>;
  request(frame: Record<string, unknown>): Promise<Frame>;
  upload(api: string): Promise<{ status: number; body: Record<string, unknown> }>;
  show(api: string, url: string): Promise<{ width: number; height: number } | { error: string }>;
};
const call = <T>(tab: Page, run: (w: PageWindow, arg: never) => Promise<T>, arg: unknown): Promise<T> =>
  tab.evaluate(({ source, arg }) => new Function('w', 'arg', `return (${source})(w, arg)`)(window, arg), { source: run.toString(), arg }) as Promise<T>;

test('a page uploads a picture with FormData and sends it; the other member\'s page receives it and shows the thumbnail', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const siteOrigin = await servePage(t, page);
  const server = await startServer(t, { CORS_ALLOW_ORIGIN: siteOrigin });
  const api = `http://localhost:${server.port}`;

  // Two people, two browser profiles: each has its own cookies.
  const [alice, bob] = [uniqueName('alice'), uniqueName('bob')];
  const tabs: Page[] = [];
  for (const name of [alice, bob]) {
    const tab = await (await browser.newContext()).newPage();
    await tab.goto(siteOrigin);
    await call(tab, (w, [api, name, password]: [string, string, string]) => w.start(api, name, password), [api, name, password]);
    tabs.push(tab);
  }
  const [aliceTab, bobTab] = tabs as [Page, Page];

  const room = await call(aliceTab, (w, members: string[]) => w.request({ type: 'create_conversation', name: 'pictures', members }), [bob]);
  const uploaded = await call(aliceTab, (w, api: string) => w.upload(api), api);
  const id = uploaded.body.id as string;
  assert.equal(uploaded.status, 201);
  // The stored copy, re-encoded; `received` names the bytes the page sent (made by its canvas).
  const { received, ...stored } = uploaded.body as { received?: { size: number; sha256: string } } & Record<string, unknown>;
  assert.deepEqual(stored, { id, name: 'red square.png', size: uploaded.body.size, type: 'image/png', sha256: uploaded.body.sha256, width: 64, height: 48 });
  assert.ok(received && received.size > 0 && /^[0-9a-f]{64}$/.test(received.sha256), JSON.stringify(received));

  const sent = await call(aliceTab, (w, frame: Record<string, unknown>) => w.request(frame), { type: 'send_message', conversation_id: room.data!.id, content: '', attachments: [id] });
  assert.equal(sent.success, true, JSON.stringify(sent));
  await bobTab.waitForFunction((messageId) => (window as never as PageWindow).events.some((event) => event.type === 'send_message' && event.data?.id === messageId), sent.data!.id);
  const pushed = await call(bobTab, async (w, messageId: number) => w.events.find((event) => event.type === 'send_message' && event.data?.id === messageId)!, sent.data!.id);
  const [attachment] = pushed.data!.attachments as { url: string; thumbnail_url: string }[];
  assert.deepEqual(attachment, { id, name: 'red square.png', size: uploaded.body.size, type: 'image/png', width: 64, height: 48, url: `/files/${id}`, thumbnail_url: `/files/${id}/thumbnail` });

  assert.deepEqual(await call(bobTab, (w, [api, url]: [string, string]) => w.show(api, url), [api, attachment!.thumbnail_url]), { width: 64, height: 48 });
  assert.deepEqual(await call(bobTab, (w, [api, url]: [string, string]) => w.show(api, url), [api, attachment!.url]), { width: 64, height: 48 });

  // A third profile, signed in but not a member, cannot show it.
  const stranger = await (await browser.newContext()).newPage();
  await stranger.goto(siteOrigin);
  await call(stranger, (w, [api, name, password]: [string, string, string]) => w.start(api, name, password), [api, uniqueName('eve'), password]);
  assert.deepEqual(await call(stranger, (w, [api, url]: [string, string]) => w.show(api, url), [api, attachment!.thumbnail_url]), { error: attachment!.thumbnail_url });
});
