// A real server wired to a real local push service (and webhook receiver): the server trusts the
// service's certificate through NODE_EXTRA_CA_CERTS and allows its host in PUSH_ENDPOINT_HOSTS.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import webpush from 'web-push';
import type { Subscription } from '../../src/push/types.ts';
import { person, type Person } from './clients.ts';
import { http } from './http.ts';
import { dropEngineDatabase, engineEnv } from './postgres.ts';
import { webhookSecret } from './push-fixtures.ts';
import { startPushService, startWebhookReceiver, type PushService, type Received, type WebhookReceiver } from './push-service.ts';
import { startServer, type TestServer } from './server.ts';
import { sleep, until } from './wait.ts';

export const metricsToken = 'a metrics token for the push tests';

export type PushSetup = { server: TestServer; service: PushService; webhook: WebhookReceiver; publicKey: string; home: string };

/** A server on this pass's engine, its VAPID keys set, sending to a local push service and webhook receiver; `env` adds settings. */
export async function pushServer(t: TestContext, env: Record<string, string> = {}, home = mkdtempSync(join(tmpdir(), 'parley-push-server-'))): Promise<PushSetup> {
  const keys = webpush.generateVAPIDKeys();
  const service = await startPushService(t, keys.publicKey);
  const webhook = await startWebhookReceiver(t, webhookSecret);
  const ca = join(home, 'push-ca.pem');
  writeFileSync(ca, service.ca);
  const server = await startServer(t, {
    ...(await engineEnv(home)),
    DBPATH: join(home, 'parley.db'),
    LOG_LEVEL: 'info',
    VAPID_PUBLIC_KEY: keys.publicKey,
    VAPID_PRIVATE_KEY: keys.privateKey,
    PUSH_ENDPOINT_HOSTS: service.host,
    PUSH_WEBHOOK_URL: webhook.url,
    PUSH_WEBHOOK_SECRET: webhookSecret,
    PUSH_COALESCE_SECONDS: '0',
    METRICS_TOKEN: metricsToken,
    NODE_EXTRA_CA_CERTS: ca,
    ...env,
  }, home);
  t.after(async () => {
    await dropEngineDatabase(home);
    rmSync(home, { recursive: true, force: true });
  });
  return { server, service, webhook, publicKey: keys.publicKey, home };
}

/** The outbox rows with a notification still to send (parley_queue_depth{queue="push"}). */
export async function pushQueue(server: TestServer): Promise<number> {
  const scraped = await http(server.http, 'GET', '/metrics', { headers: { authorization: `Bearer ${metricsToken}` } });
  const match = /^parley_queue_depth\{queue="push"\} (\d+)$/m.exec(scraped.body);
  if (!match) throw new Error(`no push queue depth in /metrics: ${scraped.status} ${scraped.body.slice(0, 200)}`);
  return Number(match[1]);
}

/**
 * Resolves once nothing is left to send: every notification queued so far has been delivered (and so
 * recorded by the push service) or settled otherwise. What was never queued is then known not to come.
 */
export async function drained(server: TestServer, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await pushQueue(server)) > 0) {
    if (Date.now() > deadline) throw new Error(`the push outbox still holds notifications after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** What the push service received for one subscription, in order. */
export const receivedBy = (service: PushService, subscription: Subscription): Received[] =>
  service.received.filter((item) => subscription.endpoint.endsWith(`/push/${item.subscription}`));

/** Waits until a subscription has received `count` notifications; resolves with them. */
export async function waitForPushes(service: PushService, subscription: Subscription, count = 1, timeoutMs = 10_000): Promise<Received[]> {
  await until(() => ({ received: receivedBy(service, subscription).length, wanted: count, rejected: service.rejected }), () => receivedBy(service, subscription).length >= count, timeoutMs);
  return receivedBy(service, subscription);
}

export type Away = Person & { subscription: Subscription; deviceId: number };

/** A new user who subscribed a browser (a device of their session), then closed their socket: offline, with a device. */
export async function awayWithDevice(setup: PushSetup, prefix = 'away'): Promise<Away> {
  const someone = await person(setup.server, prefix);
  const subscription = setup.service.subscribe();
  const device = await someone.client.request('register_device', { kind: 'webpush', subscription });
  someone.client.close();
  await someone.client.closed;
  return { ...someone, subscription, deviceId: device.id };
}
