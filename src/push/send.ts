// One delivery attempt to one device: an encrypted Web Push message to its push service, or a signed
// JSON POST to the operator's webhook; the answer sorted into delivered, retry, gone or refused.
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
// web-push is loaded with the first notification, not at start (it costs a start over a hundred milliseconds).
import type WebPush from 'web-push';
import { checkEndpoint, publicOnlyLookup, ruleFor, type EndpointRule } from './endpoints.ts';
import type { OutboxItem } from './outbox.ts';
import { payloadOf, topicOf, urgencyOf } from './payload.ts';
import { createAgents, post, type Answer } from './request.ts';
import { retryAfterMs } from './retry.ts';
import type { Device, Outcome } from './types.ts';
import type { Vapid } from './vapid.ts';

/** How long one attempt may take, answer read included; a worker's lease must be well beyond it. */
export const deliveryTimeoutMs = 10_000;

/** A VAPID token lives 12 hours (at most 24 are allowed) and is used for one; push services' origins kept at most. */
const vapidTokenSeconds = 12 * 3600;
const vapidReuseMs = 3600_000;
const maxTokens = 1000;

/** The header a webhook call is signed in (docs/notifications.md: "Bridging to native apps"). */
export const signatureHeader = 'Parley-Signature';

export type SenderOptions = {
  vapid: Vapid;
  /** PUSH_ENDPOINT_HOSTS, checked again at each send: a host the operator has since removed is refused. */
  rules: readonly EndpointRule[];
  /** PUSH_WEBHOOK_URL and PUSH_WEBHOOK_SECRET; without them webhook devices are refused. */
  webhook?: { url: string; secret: string } | undefined;
  ttlSeconds: number;
  /** Connections kept open per host (PUSH_CONCURRENCY). */
  sockets: number;
  timeoutMs?: number;
  /** Tests only: the certificate authority (PEM) to trust instead of the well-known ones. */
  ca?: string;
  now?: () => number;
};

export type Sender = {
  send(item: OutboxItem): Promise<Outcome>;
  /** Closes the kept-alive connections. */
  close(): void;
};

/** What a push service's or the bridge's answer means for this notification and this device. */
function classify(answer: Pick<Answer, 'status' | 'headers' | 'body'>, now: number): Outcome {
  const { status } = answer;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status === 404 || status === 410) return { kind: 'gone', status };
  if (status === 429 || status >= 500) {
    const afterMs = retryAfterMs(single(answer.headers['retry-after']), now);
    return { kind: 'retry', reason: `answered ${status}`, status, ...(afterMs === undefined ? {} : { afterMs }) };
  }
  return { kind: 'refused', reason: `answered ${status}${answer.body ? `: ${answer.body.slice(0, 200)}` : ''}`, status };
}

const single = (value: IncomingHttpHeaders[string]): string | undefined => (Array.isArray(value) ? value[0] : value);

/** `Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with PUSH_WEBHOOK_SECRET>`. */
export function webhookSignature(secret: string, body: Buffer, seconds: number): string {
  const mac = createHmac('sha256', secret).update(`${seconds}.`).update(body).digest('hex');
  return `t=${seconds},v1=${mac}`;
}

export function createSender(options: SenderOptions): Sender {
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? deliveryTimeoutMs;
  const agents = createAgents(options.sockets, options.ca);
  const { subject, publicKey, privateKey } = options.vapid;
  const tokens = new Map<string, { authorization: string; renewAt: number }>();
  let webpush: typeof WebPush | undefined;

  /**
   * The VAPID Authorization for a push service's origin: a token signed (by web-push) for 12 hours and
   * used for one, as RFC 8292 allows. Signing is most of the cost of a notification (OpenSSL reads
   * the key afresh each time), so it is not done for each one.
   */
  function authorization(webpush: typeof WebPush, audience: string, at: number): string {
    const token = tokens.get(audience);
    if (token && token.renewAt > at) return token.authorization;
    if (tokens.size >= maxTokens) tokens.clear();
    const expiration = Math.floor(at / 1000) + vapidTokenSeconds;
    const { Authorization } = webpush.getVapidHeaders(audience, subject, publicKey, privateKey, 'aes128gcm', expiration);
    tokens.set(audience, { authorization: Authorization, renewAt: at + vapidReuseMs });
    return Authorization;
  }

  /** Seconds of the TTL left: a notification that waited in the outbox has that much less to live. */
  const ttlLeft = (item: OutboxItem, at: number) => Math.max(0, Math.ceil((item.queuedAt + options.ttlSeconds * 1000 - at) / 1000));

  async function attempt(url: URL, headers: OutgoingHttpHeaders, body: Buffer, lookup?: typeof publicOnlyLookup): Promise<Outcome> {
    try {
      return classify(await post(url, headers, body, { agents, timeoutMs, lookup }), now());
    } catch (error) {
      const failure = error as NodeJS.ErrnoException;
      if (failure.code === 'ENOTPUBLIC') return { kind: 'refused', reason: failure.message };
      return { kind: 'retry', reason: failure.code ?? failure.message };
    }
  }

  async function webPush(item: OutboxItem, device: Extract<Device, { kind: 'webpush' }>, at: number): Promise<Outcome> {
    const checked = checkEndpoint(device.subscription.endpoint, options.rules);
    if (!checked.ok) return { kind: 'refused', reason: checked.error };
    webpush ??= (await import('web-push')).default;
    const topic = topicOf(item.key, options.vapid.topicKey);
    let details;
    try {
      details = webpush.generateRequestDetails(device.subscription, JSON.stringify(payloadOf(item.notification, item.unread)), {
        headers: { Authorization: authorization(webpush, checked.value.origin, at) },
        TTL: ttlLeft(item, at),
        urgency: urgencyOf(item.notification),
        contentEncoding: 'aes128gcm',
        ...(topic ? { topic } : {}),
      });
    } catch (error) {
      // Keys that were checked when the device was registered; only a damaged row gets here.
      return { kind: 'refused', reason: `cannot encrypt for this subscription: ${(error as Error).message}` };
    }
    const lookup = ruleFor(checked.value, options.rules)?.publicOnly ? publicOnlyLookup : undefined;
    return attempt(checked.value, details.headers as OutgoingHttpHeaders, details.body, lookup);
  }

  function webhook(item: OutboxItem, device: Extract<Device, { kind: 'webhook' }>, at: number): Promise<Outcome> {
    if (!options.webhook) return Promise.resolve({ kind: 'refused', reason: 'PUSH_WEBHOOK_URL is not set' });
    const topic = topicOf(item.key, options.vapid.topicKey);
    const body = Buffer.from(JSON.stringify({
      // The same for each attempt at the same notification: a bridge that saw it already can skip it.
      delivery: `${device.id}/${item.key}/${item.version}/${item.queuedAt}`,
      device_id: device.id,
      token: device.token,
      platform: device.platform,
      urgency: urgencyOf(item.notification),
      ttl: ttlLeft(item, at),
      topic: topic ?? null,
      notification: payloadOf(item.notification, item.unread),
    }));
    const headers = { 'Content-Type': 'application/json', [signatureHeader]: webhookSignature(options.webhook.secret, body, Math.floor(at / 1000)) };
    return attempt(new URL(options.webhook.url), headers, body);
  }

  return {
    send(item) {
      const at = now();
      return item.device.kind === 'webpush' ? webPush(item, item.device, at) : webhook(item, item.device, at);
    },
    close() {
      agents.https.destroy();
      agents.http.destroy();
    },
  };
}
