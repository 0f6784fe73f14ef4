// `npm run bench -- --only=retention` (`--only=pgretention` on PostgreSQL): the retention job deleting a
// channel's 1,000,000 messages (a year old, indexed for search) while a bystander, in no conversation of
// them, pings every 5 ms. The channel keeps its messages for ever until its owner, over the protocol, sets
// it back to the server's RETENTION_DAYS (30); the job's next round (RETENTION_ROUND_SECONDS=1) deletes
// them all. The target (issue 28): the bystander's ping p99 ≤ 50 ms throughout.
import { fresh, oneNode, type Engine } from './drive.ts';
import { open, pingWhile, replyTo, type Pings } from './hammer.ts';
import type { LogLine } from '../helpers/server.ts';

export type RetentionResult = { engine: Engine; messages: number; idle: Pings; deleting: Pings; deletedSeconds: number };

const at = (line: LogLine) => Date.parse(line.time as string);

export function retentionBench(engine: Engine, quick: boolean): Promise<RetentionResult> {
  const messages = quick ? 200_000 : 1_000_000;
  console.log(`retention: deleting a channel's ${messages.toLocaleString('en')} messages while a bystander pings, ${engine}`);
  const plan = { users: 3, channel: messages, channelDaysOld: 365, channelKeeps: true };
  const env = { RETENTION_DAYS: '30', RETENTION_ROUND_SECONDS: '1', LOG_LEVEL: 'debug' };
  return fresh(plan, async ([server], seeded) => {
    const channel = seeded.conversations[0]!;
    const bystander = await open(server, seeded.tokens[1]!);
    const owner = await open(server, seeded.tokens[2]!);
    const idleUntil = performance.now() + 3000;
    const idle = await pingWhile(bystander, () => performance.now() < idleUntil);
    await replyTo(owner, { type: 'set_retention', conversation_id: channel, days: null });
    // The first round after it deletes them all (a round that began before saw nothing due).
    const told = Date.now();
    const began = await server.waitForLog((line) => line.msg === 'periodic round' && line.job === 'retention' && at(line) >= told, 10_000);
    let done: LogLine | undefined;
    const finished = server.waitForLog((line) => line.msg === 'deleted expired messages', 30 * 60_000).then((line) => (done = line));
    const deleting = await pingWhile(bystander, () => done === undefined);
    await finished;
    const result = { engine, messages: done!.messages as number, idle, deleting, deletedSeconds: (at(done!) - at(began)) / 1000 };
    console.log(`  idle: bystander ping p50 ${idle.p50.toFixed(2)} ms, p99 ${idle.p99.toFixed(2)} ms, max ${idle.max.toFixed(1)} ms (${idle.pings} pings)`);
    console.log(`  deleting ${result.messages.toLocaleString('en')} messages in ${result.deletedSeconds.toFixed(1)} s: bystander ping p50 ${deleting.p50.toFixed(2)} ms, p99 ${deleting.p99.toFixed(2)} ms, max ${deleting.max.toFixed(1)} ms (${deleting.pings} pings); target p99 ≤ 50 ms: ${deleting.p99 <= 50 ? 'met' : 'NOT met'}`);
    return result;
  }, oneNode(engine), env);
}
