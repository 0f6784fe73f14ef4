// The benchmark's push service in a process of its own (forked by push.ts): the same checking,
// decrypting service the tests use, with `COUNT` subscriptions made for the application server key `VAPID_PUBLIC_KEY`.
import { startPushService } from '../helpers/push-service.ts';

const cleanups: (() => unknown)[] = [];
const service = await startPushService({ after: (fn) => void cleanups.push(fn) }, process.env.VAPID_PUBLIC_KEY!);
const subscriptions = Array.from({ length: Number(process.env.COUNT) }, () => service.subscribe());
process.send!({ host: service.host, ca: service.ca, subscriptions });
process.on('message', (command: string) => {
  if (command === 'report') process.send!({ received: service.received.length, rejected: service.rejected.slice(0, 5), requests: service.requests.length, cpu: process.cpuUsage() });
  if (command === 'stop') void Promise.all(cleanups.map((fn) => fn())).then(() => process.exit(0));
});
