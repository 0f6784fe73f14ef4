// Users and connected clients for tests: register, log in and connect over real HTTP and real WebSockets.
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient, type Client } from '../../protocol/client.ts';
import { pushes, type ErrorCode, type PushData, type PushType } from '../../protocol/index.ts';
import { http, tokenFrom } from './http.ts';
import type { TestServer } from './server.ts';
import { until } from './wait.ts';

export const password = 'correct horse battery';

let counter = 0;
/** A username no other test in this process uses. */
export function uniqueName(prefix = 'user'): string {
  return `${prefix}${process.pid % 10000}_${++counter}`;
}

export async function register(server: TestServer, username: string, fullname = `Full ${username}`): Promise<void> {
  const result = await http(server.http, 'POST', '/register', { body: { username, password, fullname } });
  if (result.status !== 201) throw new Error(`register ${username}: ${result.status} ${result.body}`);
}

export async function login(server: TestServer, username: string): Promise<string> {
  return tokenFrom(await http(server.http, 'POST', '/auth/login', { body: { username, password } }));
}

/** Opens a socket with the given cookie header (or none) and wraps it in the typed client. */
export function open(server: TestServer, cookie?: string, headers: Record<string, string> = {}): Client {
  return createClient(new WebSocket(server.ws, { headers: { ...headers, ...(cookie ? { cookie } : {}) } }));
}

export async function connect(server: TestServer, token: string): Promise<Client> {
  const client = open(server, `login-token=${token}`);
  await client.opened;
  return client;
}

export type Person = { username: string; token: string; client: Client; pushes: Recorded[] };
export type Recorded = { [T in PushType]: { type: T; data: PushData<T> } }[PushType];

/** Registers, logs in and connects a new user, recording every push the socket receives. */
export async function person(server: TestServer, prefix?: string): Promise<Person> {
  const username = uniqueName(prefix);
  await register(server, username);
  const token = await login(server, username);
  return { username, token, ...(await socket(server, token)) };
}

/** Another socket for the same login, recording its pushes. */
export async function socket(server: TestServer, token: string): Promise<{ client: Client; pushes: Recorded[] }> {
  const client = await connect(server, token);
  const recorded: Recorded[] = [];
  for (const type of Object.keys(pushes) as PushType[]) client.on(type, (data) => recorded.push({ type, data } as Recorded));
  // A round trip guarantees pushes caused by opening this socket were sent before the test goes on.
  await client.request('ping');
  return { client, pushes: recorded };
}

/** Waits until a recorded push matches; fails after `timeoutMs`. */
export async function waitFor(recorded: Recorded[], match: (push: Recorded) => boolean, timeoutMs = 3000): Promise<Recorded> {
  await until(() => recorded, () => recorded.some(match), timeoutMs);
  return recorded.find(match)!;
}

/** Resolves once every earlier frame sent to each client has been delivered (a ping round trip each). */
export async function settle(...clients: Client[]): Promise<void> {
  await Promise.all(clients.map((client) => client.request('ping')));
}

/** A bare socket for frames the typed client would never send; `exchange` sends one and resolves with the next frame. */
export async function rawSocket(server: TestServer, token: string) {
  const socket = new WebSocket(server.ws, { headers: { cookie: `login-token=${token}` } });
  const inbox: string[] = [];
  const waiting: ((text: string) => void)[] = [];
  socket.on('message', (data) => {
    const text = String(data);
    const next = waiting.shift();
    if (next) next(text);
    else inbox.push(text);
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const nextFrame = () => new Promise<string>((resolve) => (inbox.length ? resolve(inbox.shift()!) : waiting.push(resolve)));
  return {
    socket,
    async exchange(frame: string | Buffer): Promise<unknown> {
      socket.send(frame, { binary: Buffer.isBuffer(frame) });
      return JSON.parse(await nextFrame());
    },
    close: () => socket.close(),
  };
}

/** Sends a frame and checks the exact error reply, `ref` aside. */
export async function expectError(client: Client, frame: { type: string } & Record<string, unknown>, error: string, code: ErrorCode): Promise<void> {
  const { ref: _, ...reply } = await client.call(frame);
  assert.deepEqual(reply, { type: frame.type, success: false, error, code }, JSON.stringify(frame));
}

/** The pushes of one type recorded so far, as their data. */
export function pushed<T extends PushType>(recorded: Recorded[], type: T): PushData<T>[] {
  return recorded.filter((push) => push.type === type).map((push) => push.data as PushData<T>);
}

/** Every logged event the user may see after `since`, page by page, as envelopes. */
export async function syncAll(client: Client, since = 0): Promise<{ type: string; data: unknown; seq: number }[]> {
  const all: { type: string; data: unknown; seq: number }[] = [];
  for (;;) {
    const page = await client.request('sync', { since, limit: 500 });
    assert.equal(page.reset, false);
    all.push(...page.events);
    since = page.next;
    if (!page.has_more) return all;
  }
}
