// A real push service for tests, over HTTPS with an openssl certificate: it checks each request's VAPID
// token as RFC 8292 asks, decrypts the aes128gcm payload (RFC 8291) with keys made here as a browser makes
// them, records what arrived, and answers what the test asks for. Also a webhook receiver that checks
// the signature as docs/notifications.md's "Bridging to native apps" tells a bridge to. Written with node:crypto
// alone, independently of the web-push library Parley encrypts and signs with.
import { createECDH, createHmac, createPublicKey, hkdfSync, createDecipheriv, randomBytes, timingSafeEqual, verify, type ECDH } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSignedCertificate } from './installed.ts';
import type { Subscription } from '../../src/push/types.ts';
import { sleep } from './wait.ts';

/** What the service answers a request: a status, and a Retry-After or Location header when given. */
export type Reply = { status: number; retryAfter?: string; location?: string };

const replyHeaders = (reply: Reply): Record<string, string> => ({
  ...(reply.retryAfter === undefined ? {} : { 'Retry-After': reply.retryAfter }),
  ...(reply.location === undefined ? {} : { Location: reply.location }),
});

/** A notification the push service accepted: its headers, the VAPID claims and the decrypted payload. */
export type Received = {
  subscription: string;
  ttl: string | undefined;
  urgency: string | undefined;
  topic: string | undefined;
  claims: { aud: string; exp: number; sub: string };
  /** The encrypted body's size in bytes. */
  bytes: number;
  payload: unknown;
  at: number;
};

/** A request refused before any reply was asked for: why, and with which status. */
export type Rejected = { subscription: string; status: number; reason: string };

/** Where to register clean-ups: a test's context, or the benchmark's own list. */
type Cleanup = { after(fn: () => unknown): void };

/** A browser's side of one subscription: the private key that decrypts and the auth secret. */
type Keys = { ecdh: ECDH; auth: Buffer };

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/**
 * Checks `Authorization: vapid t=<JWT>, k=<key>`: the key expected, an ES256 signature by it, `aud`
 * this origin, `exp` within 24 h, `sub`. `verified` holds the headers this service verified already
 * (a sender reuses a token for many requests); each is still checked for expiry.
 */
function checkVapid(header: string | undefined, expectedKey: string, origin: string, verified: Map<string, Received['claims']>): { claims: Received['claims'] } | { status: number; reason: string } {
  const known = verified.get(header ?? '');
  if (known) return Date.now() / 1000 < known.exp ? { claims: known } : { status: 401, reason: `exp ${known.exp}` };
  const match = /^vapid t=([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+), ?k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!match) return { status: 401, reason: 'no vapid Authorization' };
  const [, head, body, signature, key] = match as unknown as [string, string, string, string, string];
  if (key !== expectedKey) return { status: 403, reason: 'not the key this subscription was made with' };
  const raw = Buffer.from(key, 'base64url');
  const publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') }, format: 'jwk' });
  const header_ = JSON.parse(Buffer.from(head, 'base64url').toString()) as { alg?: string };
  if (header_.alg !== 'ES256') return { status: 401, reason: `alg ${header_.alg}` };
  if (!verify('sha256', Buffer.from(`${head}.${body}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'))) {
    return { status: 401, reason: 'bad signature' };
  }
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Received['claims'];
  const now = Date.now() / 1000;
  if (claims.aud !== origin) return { status: 401, reason: `aud ${claims.aud}` };
  if (!(claims.exp > now && claims.exp <= now + 86_400)) return { status: 401, reason: `exp ${claims.exp}` };
  if (typeof claims.sub !== 'string' || !claims.sub) return { status: 401, reason: 'no sub' };
  verified.set(header!, claims);
  return { claims };
}

/** Decrypts an aes128gcm body (RFC 8188) with the keys of RFC 8291; throws when it is not one. */
export function decrypt(body: Buffer, keys: Keys): Buffer {
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body[20]!;
  const serverKey = body.subarray(21, 21 + idLength);
  const records = body.subarray(21 + idLength);
  if (idLength !== 65 || records.length > recordSize) throw new Error('not one aes128gcm record keyed with a P-256 key');
  const shared = keys.ecdh.computeSecret(serverKey);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), keys.ecdh.getPublicKey(), serverKey]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, keys.auth, info, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(records.subarray(records.length - 16));
  const padded = Buffer.concat([decipher.update(records.subarray(0, records.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 2, then any zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('no last-record delimiter');
  return padded.subarray(0, end);
}

export type PushService = {
  origin: string;
  /** The certificate to trust (the sender's test-only `ca`). */
  ca: string;
  /** This service as a PUSH_ENDPOINT_HOSTS entry. */
  host: string;
  /** A new subscription, as `PushManager.subscribe()` would return it, with an endpoint here. */
  subscribe(): Subscription;
  /** Replies for the next requests to one subscription's endpoint, in order; once used up, 201. */
  reply(subscription: Subscription, ...replies: Reply[]): void;
  /** Holds each request this long before answering (to see how many are in flight). */
  delayMs: number;
  received: Received[];
  rejected: Rejected[];
  /** Every request, accepted or not, with the status it got. */
  requests: { subscription: string; status: number; at: number }[];
  /** The most requests in flight at once so far. */
  maxInFlight: number;
};

/** Starts the push service; `vapidPublicKey` is the application server key every subscription was made with. */
export async function startPushService(t: Cleanup, vapidPublicKey: string): Promise<PushService> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-push-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = selfSignedCertificate(dir);
  const ca = readFileSync(files.cert, 'utf8');
  const subscriptions = new Map<string, Keys & { replies: Reply[] }>();
  const verified = new Map<string, Received['claims']>();
  let inFlight = 0;

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    inFlight++;
    service.maxInFlight = Math.max(service.maxInFlight, inFlight);
    const id = (request.url ?? '').replace(/^\/push\//, '');
    const answer = (status: number, headers: Record<string, string> = {}) => {
      service.requests.push({ subscription: id, status, at: Date.now() });
      inFlight--;
      response.writeHead(status, headers).end();
    };
    const refuse = (status: number, reason: string) => {
      service.rejected.push({ subscription: id, status, reason });
      answer(status);
    };
    const body = await readBody(request);
    if (service.delayMs) await sleep(service.delayMs);
    const keys = subscriptions.get(id);
    if (request.method !== 'POST' || !keys) return refuse(404, 'no such subscription');
    const vapid = checkVapid(request.headers.authorization, vapidPublicKey, service.origin, verified);
    if (!('claims' in vapid)) return refuse(vapid.status, vapid.reason);
    if (request.headers['content-encoding'] !== 'aes128gcm') return refuse(415, `content-encoding ${request.headers['content-encoding']}`);
    if (request.headers.ttl === undefined) return refuse(400, 'no TTL');
    if (body.length > 4096) return refuse(413, `${body.length} bytes`);
    let payload: unknown;
    try {
      payload = JSON.parse(decrypt(body, keys).toString('utf8'));
    } catch (error) {
      return refuse(400, `cannot decrypt: ${(error as Error).message}`);
    }
    const reply = keys.replies.shift() ?? { status: 201 };
    if (reply.status === 201) {
      const { ttl, urgency, topic } = request.headers as Record<string, string | undefined>;
      service.received.push({ subscription: id, ttl, urgency, topic, claims: vapid.claims, bytes: body.length, payload, at: Date.now() });
    }
    answer(reply.status, replyHeaders(reply));
  };

  const server = createHttpsServer({ key: readFileSync(files.key), cert: ca }, (request, response) => void handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const service: PushService = {
    origin: `https://${host}`,
    ca,
    host,
    subscribe() {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const id = randomBytes(12).toString('base64url');
      const auth = randomBytes(16);
      subscriptions.set(id, { ecdh, auth, replies: [] });
      return { endpoint: `${service.origin}/push/${id}`, keys: { p256dh: ecdh.getPublicKey('base64url'), auth: auth.toString('base64url') } };
    },
    reply(subscription, ...replies) {
      subscriptions.get(subscription.endpoint.split('/push/')[1]!)!.replies.push(...replies);
    },
    delayMs: 0,
    received: [],
    rejected: [],
    requests: [],
    maxInFlight: 0,
  };
  return service;
}

/** A call the webhook receiver accepted: the parsed body and when. */
export type WebhookCall = { body: Record<string, unknown>; at: number };

export type WebhookReceiver = {
  url: string;
  calls: WebhookCall[];
  /** Calls refused for their signature, with why. */
  rejected: string[];
  /** Replies for the next calls, in order; once used up, 200. */
  reply(...replies: Reply[]): void;
};

/**
 * A native-app bridge's receiving end on plain http: checks `Parley-Signature: t=<seconds>,v1=<hex>`
 * (HMAC-SHA256 of `<t>.<body>` with the shared secret, `t` within 5 minutes of now) and keeps the calls.
 */
export async function startWebhookReceiver(t: Cleanup, secret: string): Promise<WebhookReceiver> {
  const replies: Reply[] = [];
  const server = createHttpServer((request, response) => void (async () => {
    const body = await readBody(request);
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(request.headers['parley-signature']));
    const expected = match ? createHmac('sha256', secret).update(`${match[1]}.`).update(body).digest() : undefined;
    const reason = !match ? 'no signature'
      : !timingSafeEqual(expected!, Buffer.from(match[2]!, 'hex')) ? 'bad signature'
      : Math.abs(Date.now() / 1000 - Number(match[1])) > 300 ? 'stale timestamp'
      : undefined;
    if (reason) {
      receiver.rejected.push(reason);
      return response.writeHead(401).end();
    }
    const reply = replies.shift() ?? { status: 200 };
    if (reply.status < 300) receiver.calls.push({ body: JSON.parse(body.toString('utf8')) as Record<string, unknown>, at: Date.now() });
    response.writeHead(reply.status, replyHeaders(reply)).end();
  })());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/parley`,
    calls: [],
    rejected: [],
    reply: (...more) => void replies.push(...more),
  };
  return receiver;
}
