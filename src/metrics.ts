// Prometheus metrics: one registry per App, counted by small hook calls where things happen, read at scrape time.
// prom-client is loaded only by a server that is scraped (METRICS_TOKEN set): it costs a start a few hundred
// milliseconds of loading, and without a token there is no /metrics to read it.
import type * as PromClient from 'prom-client';

export const loginOutcomes = ['ok', 'failed', 'suspended', 'second_factor'] as const;
/** The rate limits whose refusals are counted (a throttled login counts here, not as a login). */
export const limits = ['events', 'login', 'registration', 'password_reset', 'upload', 'webhook'] as const;
/** Queues of outgoing work: mail counted as it comes and goes, push notifications read from the outbox at scrape time. */
export const queues = ['mail', 'push'] as const;

/** Events whose frame named no known type are counted under this one label, so labels stay bounded. */
export const unknownType = 'unknown';

export type Metrics = ReturnType<typeof createMetrics>;

const eventBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** One event type's counts by outcome, and the latency histogram of its successes (per bucket, not cumulative). */
type EventTally = { outcomes: Map<string, number>; buckets: number[]; count: number; sum: number };

/**
 * The per-event metrics are plain numbers written out at scrape time, not prom-client objects:
 * prom-client builds and hashes a label set on every call, which cost 1.5 µs per event (measured
 * in-process on send_message, about 5% of its handling), against a few nanoseconds here.
 */
function eventsText(tallies: Map<string, EventTally>): string {
  const lines = [
    `# HELP parley_events_total Frames handled, by event type and outcome: ok, or the error code of the reply; frames that name no known event count as type "${unknownType}"`,
    '# TYPE parley_events_total counter',
  ];
  for (const [type, { outcomes }] of tallies) for (const [outcome, count] of outcomes) lines.push(`parley_events_total{type="${type}",outcome="${outcome}"} ${count}`);
  lines.push(
    "# HELP parley_event_duration_seconds Successful events: from the frame's arrival to its reply, which waits for the commit",
    '# TYPE parley_event_duration_seconds histogram',
  );
  for (const [type, { buckets, count, sum }] of tallies) {
    if (count === 0) continue; // no success yet
    let cumulative = 0;
    eventBuckets.forEach((bound, i) => lines.push(`parley_event_duration_seconds_bucket{type="${type}",le="${bound}"} ${(cumulative += buckets[i]!)}`));
    lines.push(
      `parley_event_duration_seconds_bucket{type="${type}",le="+Inf"} ${count}`,
      `parley_event_duration_seconds_sum{type="${type}"} ${sum}`,
      `parley_event_duration_seconds_count{type="${type}"} ${count}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The metrics of a server that is scraped: `await import('prom-client')` given. */
export function createMetrics(prom: typeof PromClient) {
  const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = prom;
  const registry = new Registry();
  const registers = [registry];
  const sources = { sockets: () => 0, online: () => 0, pushQueue: async () => 0 };
  // Types come from the handler table (dispatch passes `unknownType` for anything else), outcomes from the error catalogue.
  const tallies = new Map<string, EventTally>();

  new Gauge({
    name: 'parley_sockets_open', help: 'Authenticated WebSockets open', registers,
    collect() { this.set(sources.sockets()); },
  });
  new Gauge({
    name: 'parley_users_online', help: 'Users with at least one socket open', registers,
    collect() { this.set(sources.online()); },
  });
  const batchSize = new Histogram({
    name: 'parley_commit_batch_size', registers, buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    help: 'Units of work (events, HTTP writes, background jobs) sharing one group commit',
  });
  const commitSeconds = new Histogram({
    name: 'parley_commit_duration_seconds', registers, buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    help: 'Time the COMMIT of one group-commit batch took',
  });
  const commitFailures = new Counter({ name: 'parley_commit_failures_total', help: 'Group commits that failed and were rolled back', registers });
  const deliveries = new Counter({ name: 'parley_fanout_deliveries_total', help: 'Pushes written to sockets (one per receiving socket), besides replies', registers });
  const slowCloses = new Counter({ name: 'parley_slow_consumer_closes_total', help: 'Sockets closed (4007) because they read slower than MAX_BACKPRESSURE allows', registers });
  const refusals = new Counter({ name: 'parley_rate_limit_refusals_total', help: 'Requests refused by a rate limit, by limit', labelNames: ['limit'] as const, registers });
  const logins = new Counter({ name: 'parley_logins_total', help: 'Logins checked, by outcome: ok, failed (wrong username, password or second-factor code), suspended, second_factor (right password, no code given for an account with two-factor login)', labelNames: ['outcome'] as const, registers });
  const queued = new Gauge({
    name: 'parley_queue_depth', help: 'Outgoing work accepted but not yet handed on, by queue (push: outbox rows with a notification waiting, on every node)', labelNames: ['queue'] as const, registers,
    async collect() { this.set({ queue: 'push' }, await sources.pushQueue()); },
  });
  // Every series of a bounded label set exists from the start, so rate() sees its first increase.
  for (const limit of limits) refusals.inc({ limit }, 0);
  for (const outcome of loginOutcomes) logins.inc({ outcome }, 0);
  for (const queue of queues) queued.set({ queue }, 0);

  return {
    contentType: registry.contentType,
    /** The scrape: every metric in the Prometheus text format. */
    async text(): Promise<string> {
      return `${eventsText(tallies)}\n${await registry.metrics()}`;
    },
    /** Adds the process's own metrics (CPU, memory, event-loop lag, GC, handles): for a server that is scraped. */
    collectProcess(): void {
      collectDefaultMetrics({ register: registry });
    },
    /**
     * A node of a cluster: whether it reaches Redis, how many nodes beat there (read at scrape time;
     * left as last read while Redis is away), how many of other nodes' events it delivered, and how
     * many of its own wait for them.
     * Registered only on such a node, so a node alone shows no cluster series.
     */
    cluster(from: { redisUp(): boolean; nodes(): Promise<number | undefined>; waiting(): number }): { followed(): void } {
      new Gauge({
        name: 'parley_redis_up', help: 'Whether this node reaches Redis (1) or not (0); while it does not, presence and typing may be stale and limits are counted per node', registers,
        collect() { this.set(from.redisUp() ? 1 : 0); },
      });
      new Gauge({
        name: 'parley_cluster_nodes', help: 'Nodes of the cluster beating in Redis within NODE_TIMEOUT, this one included', registers,
        async collect() {
          const nodes = await from.nodes();
          if (nodes !== undefined) this.set(nodes);
        },
      });
      new Gauge({
        name: 'parley_cluster_waiting_events', help: "This node's committed events held back until another node's lower seq is read from the log (replies wait with them): above 0 for long, the node cannot read the log", registers,
        collect() { this.set(from.waiting()); },
      });
      const followed = new Counter({ name: 'parley_cluster_followed_events_total', help: 'Logged events committed by other nodes and delivered to sockets here, read from the followed event log', registers });
      return { followed: () => followed.inc() };
    },
    /** Where the gauges read at scrape time come from. */
    watch(from: Partial<typeof sources>): void {
      Object.assign(sources, from);
    },
    /** A frame handled; `startedAt` (performance.now() at its arrival) for a success, to time it. */
    event(type: string, outcome: string, startedAt?: number): void {
      let tally = tallies.get(type);
      if (!tally) tallies.set(type, (tally = { outcomes: new Map(), buckets: eventBuckets.map(() => 0), count: 0, sum: 0 }));
      tally.outcomes.set(outcome, (tally.outcomes.get(outcome) ?? 0) + 1);
      if (startedAt === undefined) return;
      const seconds = (performance.now() - startedAt) / 1000;
      tally.count++;
      tally.sum += seconds;
      const bucket = eventBuckets.findIndex((bound) => seconds <= bound);
      if (bucket >= 0) tally.buckets[bucket]!++; // past the last bound: only in +Inf, which is the count
    },
    committed(units: number, milliseconds: number): void {
      batchSize.observe(units);
      commitSeconds.observe(milliseconds / 1000);
    },
    commitFailed: (): void => void commitFailures.inc(),
    delivered(sockets: number): void {
      if (sockets > 0) deliveries.inc(sockets);
    },
    slowConsumerClosed: (): void => void slowCloses.inc(),
    refused: (limit: (typeof limits)[number]): void => void refusals.inc({ limit }),
    login: (outcome: (typeof loginOutcomes)[number]): void => void logins.inc({ outcome }),
    queued: (queue: 'mail', change: 1 | -1): void => void queued.inc({ queue }, change),
  };
}

/** The metrics of a server nobody scrapes (no METRICS_TOKEN): the same calls, which count nothing. */
export function uncountedMetrics(): Metrics {
  const nothing = () => {};
  return {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    text: async () => '',
    collectProcess: nothing,
    cluster: () => ({ followed: nothing }),
    watch: nothing,
    event: nothing,
    committed: nothing,
    commitFailed: nothing,
    delivered: nothing,
    slowConsumerClosed: nothing,
    refused: nothing,
    login: nothing,
    queued: nothing,
  };
}
