// `npm run bench -- --only=threads` (`--only=pgthreads` on PostgreSQL): the server's CPU per message for
// replies in threads against plain messages, in the chat step (1,000 users in 500 pairs, each pair replying
// under one root), at the same offered rates, plain and thread steps taking turns so the machine's noise
// falls on both: plain, thread, thread, plain at each rate, each kind's two steps added up (the second of two
// steps in a row paid more, whichever kind it was: the database and its log grow). The target: a thread
// reply costs at most 10% more.
import { chatSteps, enter, fresh, loginOf, oneNode, pairEntries, pairsFor, pidsOf, local, generatorCount, withGenerators, type Deployment } from './drive.ts';
import type { ChatStep } from './report.ts';

/** Server CPU (with PostgreSQL's, when it runs on it) per delivered message, in microseconds. */
const perMessage = (step: ChatStep) => ((step.serverCpu + (step.databaseCpu ?? 0)) / Math.max(1, step.delivered)) * 1e6;

/** Two steps of one kind as one: their CPU and their deliveries added up. */
const both = (a: ChatStep, b: ChatStep): ChatStep => ({ ...a, serverCpu: a.serverCpu + b.serverCpu, databaseCpu: a.databaseCpu === undefined ? undefined : a.databaseCpu + (b.databaseCpu ?? 0), delivered: a.delivered + b.delivered });

export function threadReplies(engine: Deployment['engine'], rates: readonly number[]): Promise<{ rate: number; plain: number; thread: number }[]> {
  const deployment = oneNode(engine);
  return fresh({ users: 1000, pairs: 500, roots: true }, (nodes, seeded) =>
    withGenerators(async (generators) => {
      console.log(`thread replies against plain messages, ${engine}:`);
      await enter(generators, pairEntries(seeded.conversations.length, loginOf(nodes, seeded)));
      const pairs = pairsFor(seeded.conversations, local);
      // Each generator's roots in the order of its pairs (pair i lives in generator i % G).
      const roots = Array.from({ length: generatorCount }, (_, g) => seeded.roots.filter((_, pair) => pair % generatorCount === g));
      const measured = [];
      for (const rate of rates) {
        const step = async (threaded: boolean) => (await chatSteps(generators, pairs, [rate], pidsOf(nodes), threaded ? roots : undefined))[0]!;
        const [plainFirst, threadFirst] = [await step(false), await step(true)];
        const [threadSecond, plainSecond] = [await step(true), await step(false)];
        const row = { rate, plain: perMessage(both(plainFirst, plainSecond)), thread: perMessage(both(threadFirst, threadSecond)) };
        console.log(`  ${rate} msgs/s: plain ${row.plain.toFixed(1)} µs, thread ${row.thread.toFixed(1)} µs of CPU a message (${((row.thread / row.plain - 1) * 100).toFixed(1)}%)`);
        measured.push(row);
      }
      return measured;
    }),
  deployment);
}
