// `npm run bench -- --cluster` (or `--only=cluster`): in one run, Parley as one node on SQLite, one node
// on PostgreSQL and three nodes on PostgreSQL + Redis — chat and fan-out to 1,000 members on each, and
// how long a message takes to reach a socket on the sender's node against one on another node.
import { loadavg } from 'node:os';
import { installLine, missing } from '../helpers/installed.ts';
import { renderCluster, saturation, type ClusterResults, type Latency } from './report.ts';
import {
  all, chatParley, nameOf, drain, enter, fanoutParley, fresh, generatorCount, local, loginOf, machine, oneNode, pairEntries,
  pairsFor, percentile, quick, withGenerators, type Deployment,
} from './drive.ts';

const threeNodes: Deployment = { engine: 'postgres', nodes: 3 };
const deployments = [oneNode('sqlite'), oneNode('postgres'), threeNodes];

/** Half of what the three nodes' chat saturated at in the same run (100 msgs/s at least): the target compares delivery there. */
const latencyRateOf = (saturated: number | undefined) => Math.max(100, Math.floor((saturated ?? 0) / 2 / 100) * 100);
const latencySeconds = quick ? 10 : 30;

/**
 * Pairs whose two sockets are on one node (lane 0) beside pairs whose sockets are on two nodes (lane 1),
 * in the same generators, all sending at once at `latencyRate` in all.
 */
async function sameAgainstCross(deployment: Deployment, latencyRate: number): Promise<ClusterResults['latency']> {
  const pairs = 300;
  // Each generator holds pairs of both lanes, alternately.
  const laneOf = (pair: number) => Math.floor(pair / generatorCount) % 2;
  console.log(`delivery latency, ${nameOf(deployment)}: ${pairs / 2} pairs on one node beside ${pairs / 2} pairs across two, ${latencyRate} msgs/s in all for ${latencySeconds} s`);
  return fresh({ users: 2 * pairs, pairs }, (nodes, seeded) =>
    withGenerators(async (generators) => {
      const login = loginOf(nodes, seeded);
      // Pair p's first user is on node p mod N; its second is there too, or on the next node.
      const place = (user: number) => {
        const pair = Math.floor(user / 2);
        return login(user, (pair + (user % 2) * laneOf(pair)) % nodes.length);
      };
      await enter(generators, pairEntries(pairs, place));
      const byGenerator = pairsFor(seeded.conversations, local, laneOf);
      const chat = (seconds: number) => all<{ sent: number }>(generators, (i) => ({ cmd: 'chat', rate: latencyRate / generators.length, seconds, pairs: byGenerator[i] }));
      await chat(1); // warm-up, not recorded
      await drain(generators);
      await all(generators, () => ({ cmd: 'reset' }));
      const sends = await chat(latencySeconds);
      await drain(generators);
      const reports = await all<{ latencies: number[]; lanes: number[]; errors: number }>(generators, () => ({ cmd: 'report' }));
      const lane = (which: number): Latency => {
        const sorted = reports.flatMap((r) => r.latencies.filter((_, i) => r.lanes[i] === which)).sort((a, b) => a - b);
        return { delivered: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
      };
      const [sameNode, crossNode] = [lane(0), lane(1)];
      const sent = sends.reduce((sum, s) => sum + s.sent, 0);
      const errors = reports.reduce((sum, r) => sum + r.errors, 0) + sent - sameNode.delivered - crossNode.delivered;
      for (const [name, l] of [['same node', sameNode], ['across nodes', crossNode]] as const) {
        console.log(`  ${name}: ${l.delivered} delivered, p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, max ${l.max.toFixed(1)} ms`);
      }
      console.log(`  ${sent} sent, ${errors} errors or missing`);
      return { nodes: nodes.length, pairs, rate: latencyRate, seconds: latencySeconds, sent, errors, sameNode, crossNode };
    }),
  deployment);
}

/** Measures every deployment and prints the summary; run.ts records it under `--cluster`. */
export async function measureCluster(): Promise<ClusterResults> {
  const lacking = missing(['postgres', 'redis']);
  if (lacking.length) throw new Error(`the cluster benchmark needs PostgreSQL and Redis: ${installLine(lacking)}`);
  const started = Date.now();
  const date = new Date().toISOString();
  const [loadAverage] = loadavg();
  const measured: ClusterResults['deployments'] = [];
  for (const deployment of deployments) {
    console.log(`${nameOf(deployment)}: chat (1,000 users in 500 pairs), then fan-out (one conversation of 1,000 members)`);
    measured.push({ name: nameOf(deployment), ...deployment, chat: await chatParley(deployment), fanout: await fanoutParley(deployment) });
  }
  const latency = await sameAgainstCross(threeNodes, latencyRateOf(saturation(measured.at(-1)!.chat)?.delivered));
  const results: ClusterResults = { date, quick, machine: machine(), deployments: measured, latency, loadAverage: loadAverage!, seconds: Math.round((Date.now() - started) / 1000) };
  console.log(`\n${renderCluster(results)}`);
  return results;
}
