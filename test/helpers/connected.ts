// The reconnecting client (protocol/connect.ts) in tests: sign in through any address, connect with
// short waits, and record what the app would see.
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { sleep, until } from './wait.ts';
import WebSocket from 'ws';
import { connect, login, type ConnectOptions, type CookieJar, type ParleyClient, type ConnectionState } from '../../protocol/connect.ts';
import { pushes, type PushType } from '../../protocol/index.ts';
import { open, password, register, syncAll, uniqueName } from './clients.ts';
import type { TestServer } from './server.ts';

/** Registers a new user on the server and logs in through `url` (the server's, or a proxy's). */
export async function signIn(server: TestServer, url: string, prefix?: string): Promise<{ username: string; cookies: CookieJar }> {
  const username = uniqueName(prefix);
  await register(server, username);
  return { username, cookies: await login(url, username, password) };
}

export type Delivered = { type: PushType | 'reset'; data: unknown; seq?: number };

export type Live = { client: ParleyClient; delivered: Delivered[]; states: ConnectionState[] };

/** Connects with the `ws` package and waits of tens of milliseconds, recording every event and state. */
export function live(url: string, cookies: CookieJar, options: Partial<ConnectOptions> = {}): Live {
  const client = connect({ url, cookies, WebSocket, backoff: { baseMs: 20, maxMs: 200 }, ...options });
  const delivered: Delivered[] = [];
  const states: ConnectionState[] = [];
  for (const type of [...Object.keys(pushes), 'reset'] as (PushType | 'reset')[]) {
    client.on(type, (data, { seq }) => delivered.push(seq === undefined ? { type, data } : { type, data, seq }));
  }
  client.onState((state) => states.push(state));
  return { client, delivered, states };
}

/** Resolves once the client is open. */
export const opened = (live: Live, timeoutMs?: number) => until(() => live.states, () => live.client.state.status === 'open', timeoutMs);

/** Logged events only (what `sync` replays), as envelopes without `success`. */
export const logged = (delivered: Delivered[]) => delivered.filter((event) => event.seq !== undefined);

/** What `send_message` events the app was given, by content. */
export const said = (app: Live) => app.delivered.filter((event) => event.type === 'send_message').map((event) => (event.data as { content: string }).content);

/**
 * Resolves once the logged events the app was given are the server's log for the jar's user after
 * `since` (receipts are logged about half a second after what they are about); fails after `timeoutMs`
 * showing both.
 */
export async function seesLog(app: Live, server: TestServer, cookies: CookieJar, since = 0, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(100)) {
    const log = await logOf(server, cookies, since);
    if (isDeepStrictEqual(logged(app.delivered), log) || Date.now() > deadline) return assert.deepEqual(logged(app.delivered), log);
  }
}

/** The server's event log for the jar's user after `since`: what the app should have been given. */
export async function logOf(server: TestServer, cookies: CookieJar, since = 0): Promise<Delivered[]> {
  const reader = open(server, cookies.header('/ws'));
  await reader.opened;
  const events = await syncAll(reader, since);
  reader.close();
  return events.map(({ type, data, seq }) => ({ type: type as Delivered['type'], data, seq }));
}
