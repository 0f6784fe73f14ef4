// Notifications sent per second: the push worker draining an outbox of one notification per device into
// the local HTTPS push service (in its own process, checking VAPID and decrypting every one), at several
// PUSH_CONCURRENCY values; and, for scale, what Web Push encryption alone allows.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import webpush from 'web-push';
import { parseEndpointHosts } from '../../src/push/endpoints.ts';
import { payloadOf } from '../../src/push/payload.ts';
import { defaultRetryPolicy } from '../../src/push/retry.ts';
import { createSender } from '../../src/push/send.ts';
import type { Device, Notification, Subscription } from '../../src/push/types.ts';
import { startPushWorker } from '../../src/push/worker.ts';
import { createMemoryOutbox } from '../helpers/memory-outbox.ts';
import { silentLog, testVapid } from '../helpers/push-fixtures.ts';

export type PushRound = { concurrency: number; notifications: number; perSecond: number; workerCores: number; serviceCores: number };
export type PushResult = { encryptPerSecond: number; rounds: PushRound[] };

const cpuSeconds = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;

export async function pushBench(quick: boolean): Promise<PushResult> {
  const count = quick ? 2000 : 10_000;
  console.log(`push: ${count.toLocaleString('en')} notifications, one per device, to a local HTTPS push service in its own process`);
  const vapid = testVapid();
  const child = fork(new URL('./push-endpoint.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, VAPID_PUBLIC_KEY: vapid.publicKey, COUNT: String(count) },
  });
  try {
    const [ready] = (await once(child, 'message')) as [{ host: string; ca: string; subscriptions: Subscription[] }];
    const report = async () => {
      child.send('report');
      return ((await once(child, 'message')) as [{ received: number; rejected: unknown[]; requests: number; cpu: NodeJS.CpuUsage }])[0];
    };
    const devices: Device[] = ready.subscriptions.map((subscription, i) => ({ id: i + 1, userId: i + 1, kind: 'webpush', subscription }));

    // Encryption (a new ECDH key pair and secret, HKDF, AES-GCM) alone, on this process's one core: the
    // part of a notification's cost that cannot be shared (its VAPID token is reused for an hour).
    const sample: Notification = { kind: 'message', conversation: { id: 1, name: 'Team', direct: false }, sender: 'alice', preview: 'x'.repeat(200) };
    const text = JSON.stringify(payloadOf(sample, 3));
    let encrypted = 0;
    const encryptStart = performance.now();
    while (performance.now() - encryptStart < 1000) {
      const { keys } = ready.subscriptions[encrypted % count]!;
      webpush.encrypt(keys.p256dh, keys.auth, text, 'aes128gcm');
      encrypted++;
    }
    const encryptPerSecond = Math.round(encrypted / ((performance.now() - encryptStart) / 1000));
    console.log(`  encryption alone: ${encryptPerSecond.toLocaleString('en')}/s`);

    const rounds: PushRound[] = [];
    for (const [round, concurrency] of [8, 32, 128].entries()) {
      const outbox = createMemoryOutbox(devices, () => 1);
      const sender = createSender({ vapid, rules: parseEndpointHosts(ready.host), ttlSeconds: 3600, sockets: concurrency, ca: ready.ca });
      const notification: Notification = { ...sample, conversation: { ...sample.conversation, id: round + 1 } };
      await outbox.enqueue(devices.map((device) => ({ deviceId: device.id, notification })), Date.now());
      const before = await report();
      const cpu = process.cpuUsage();
      const start = performance.now();
      const worker = startPushWorker({ outbox, send: sender.send, log: silentLog, policy: defaultRetryPolicy(3600), concurrency, coalesceMs: 0, pollMs: 50 });
      while (worker.stats.delivered + worker.stats.refused + worker.stats.expired < count) await new Promise((resolve) => setTimeout(resolve, 5));
      const seconds = (performance.now() - start) / 1000;
      const workerCores = cpuSeconds(process.cpuUsage(cpu)) / seconds;
      await worker.stop();
      sender.close();
      const after = await report();
      if (worker.stats.delivered !== count || after.received - before.received !== count || after.rejected.length) {
        throw new Error(`push: ${worker.stats.delivered} delivered, ${after.received - before.received} received, rejected ${JSON.stringify(after.rejected)}`);
      }
      const serviceCores = (cpuSeconds(after.cpu) - cpuSeconds(before.cpu)) / seconds;
      rounds.push({ concurrency, notifications: count, perSecond: Math.round(count / seconds), workerCores, serviceCores });
      console.log(`  PUSH_CONCURRENCY=${concurrency}: ${Math.round(count / seconds).toLocaleString('en')} notifications/s (worker ${workerCores.toFixed(2)} cores, push service ${serviceCores.toFixed(2)})`);
    }
    return { encryptPerSecond, rounds };
  } finally {
    child.send('stop');
    await once(child, 'exit');
  }
}
