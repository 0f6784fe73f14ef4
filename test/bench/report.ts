// The benchmark's figures as a table against the targets, and as an SVG chart of latency against offered load.
import type { HammerResult } from './hammer.ts';
import type { FilesResult } from './files.ts';
import type { RetentionResult } from './retention.ts';
import type { ExportResult } from './export.ts';
import { describeCeiling, type PostgresCeiling } from './ceiling.ts';

export type ChatStep = {
  offered: number;
  delivered: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  generatorCpu: number;
  serverCpu: number;
  /** PostgreSQL's processes, when the server runs on it (cores). */
  databaseCpu?: number;
  generatorLimited: boolean;
  /** Server and generators together kept (nearly) every core busy: the machine was the limit. */
  machineLimited: boolean;
};

export type FanoutStep = {
  rate: number;
  deliveriesPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  complete: boolean;
  serverCpu: number;
  generatorCpu: number;
  generatorLimited: boolean;
  /** Server and generators together kept (nearly) every core busy: the machine was the limit. */
  machineLimited: boolean;
};

export type Results = {
  date: string;
  quick: boolean;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; generators: number };
  storage: number;
  chat: { parley: ChatStep[]; relay: ChatStep[] };
  fanout: { parley: FanoutStep[]; relay: FanoutStep[] };
  presence: { waves: { kind: string; sockets: number; connectsPerSecond: number; statuses: number; statusesPerSecond: number }[] };
  memory: { sockets: number; rssBeforeKiB: number; rssAfterKiB: number; perSocketKiB: number; connectsPerSecond: number };
  hammer: HammerResult;
  /** The chat step with 1,000 offline members holding push devices, and the notifications they got. */
  pushChat: { steps: ChatStep[]; notifications: number };
  files: FilesResult;
  /** The retention job deleting a channel's messages under a bystander's pings, on each engine measured. */
  retention: RetentionResult[];
  /** The server's memory building and serving a large export, on each engine measured. */
  export: ExportResult[];
  /** PostgreSQL's own ceiling (pgbench), chat and fan-out again with DATABASE_URL on a durable PostgreSQL (when installed). */
  postgres?: { storage: PostgresCeiling; chat: ChatStep[]; fanout: FanoutStep[] };
  seconds: number;
};

/** Delivery latencies of one kind of pair, sender to receiver (ms). */
export type Latency = { delivered: number; p50: number; p99: number; max: number };

/** `npm run bench -- --cluster`: the same chat and fan-out on each deployment, and same-node against cross-node delivery. */
export type ClusterResults = {
  date: string;
  quick: boolean;
  machine: Results['machine'];
  deployments: { name: string; engine: 'sqlite' | 'postgres'; nodes: number; chat: ChatStep[]; fanout: FanoutStep[] }[];
  /** Pairs on one node beside pairs across two, sending together at `rate` msgs/s in all for `seconds`. */
  latency: { nodes: number; pairs: number; rate: number; seconds: number; sent: number; errors: number; sameNode: Latency; crossNode: Latency };
  /** The machine's 1-minute load average when the run began: what else was running shows here. */
  loadAverage: number;
  seconds: number;
};

/** The highest step whose p99 stays under 50 ms with no errors. */
export function saturation(steps: ChatStep[]): ChatStep | undefined {
  return steps.filter((step) => step.p99 < 50 && step.errors === 0).at(-1);
}

export function summary(results: Results) {
  const parley = saturation(results.chat.parley);
  const relay = saturation(results.chat.relay);
  const ceiling = Math.min(results.storage, relay?.delivered ?? Infinity);
  const half = parley ? results.chat.parley.filter((step) => step.offered <= parley.offered / 2).at(-1) : undefined;
  /** Fan-out saturation, defined as for chat: the highest step that delivered everything with p99 under 50 ms. */
  const best = (steps: FanoutStep[]) => steps.filter((step) => step.complete && step.p99 < 50).at(-1);
  return { parley, relay, ceiling, half, fanout: best(results.fanout.parley), fanoutCeiling: best(results.fanout.relay) };
}

const n = (value: number | undefined, digits = 0) => (value === undefined || Number.isNaN(value) ? '—' : value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (part: number | undefined, whole: number) => (part === undefined || !Number.isFinite(whole) ? '—' : `${Math.round((100 * part) / whole)}%`);

/** The chat step with offline members holding devices, beside the same step without (same run). */
function pushChatRows(results: Results): string[][] {
  const plain = saturation(results.chat.parley);
  const top = saturation(results.pushChat.steps);
  const half = top ? results.pushChat.steps.filter((step) => step.offered <= top.offered / 2).at(-1) : undefined;
  return [
    ['chat with 1,000 offline devices (msgs/s)', n(top?.delivered), `without devices ${n(plain?.delivered)}`, pct(top?.delivered, plain?.delivered ?? NaN), '', ''],
    ['chat p99 at half, with devices (ms)', `${n(half?.p99, 2)} at ${n(half?.offered)}/s`, `${n(results.pushChat.notifications)} notifications received`, '', '', ''],
  ];
}

/**
 * PostgreSQL's rows: chat at saturation against what PostgreSQL itself takes (the highest of pgbench's
 * figures) and against the same run's chat on SQLite, p99 at half, fan-out.
 */
export function postgresRows(results: Pick<Results, 'postgres'> & Partial<Pick<Results, 'chat'>>): string[][] {
  const pg = results.postgres;
  if (!pg) return [];
  const top = saturation(pg.chat);
  const sqlite = results.chat && saturation(results.chat.parley);
  const half = top ? pg.chat.filter((step) => step.offered <= top.offered / 2).at(-1) : undefined;
  const fan = pg.fanout.filter((step) => step.complete && step.p99 < 50).at(-1);
  const { ceiling } = pg.storage;
  return [
    ['PostgreSQL: chat at saturation (msgs/s)', n(top?.delivered), `PostgreSQL itself ${n(ceiling)} rows/s`, pct(top?.delivered, ceiling), '≥ 30%', (top?.delivered ?? 0) >= ceiling * 0.3 ? 'yes' : 'NO'],
    ['PostgreSQL: chat against SQLite in this run', n(top?.delivered), `SQLite ${n(sqlite?.delivered)}`, pct(top?.delivered, sqlite?.delivered ?? NaN), '≥ 50%', sqlite ? ((top?.delivered ?? 0) >= sqlite.delivered / 2 ? 'yes' : 'NO') : ''],
    ['PostgreSQL: server and database CPU per message at saturation (µs)', top ? `${n((1e6 * top.serverCpu) / top.delivered)} + ${n((1e6 * (top.databaseCpu ?? NaN)) / top.delivered)}` : '—', describeCeiling(pg.storage), '', '', ''],
    ['PostgreSQL: chat p99 at half saturation (ms)', `${n(half?.p99, 2)} at ${n(half?.offered)}/s`, '', '', '', ''],
    ['PostgreSQL: fan-out to 1,000 (deliveries/s)', n(fan?.deliveriesPerSecond), `p99 ${n(fan?.p99, 2)} ms at ${n(fan?.rate)} msgs/s`, '', '', ''],
  ];
}

/** Rows as the summary table draws them, under `head`. */
export function renderRows(rows: string[][], head = ['measure', 'Parley', 'ceiling', 'Parley / ceiling', 'target', 'met']): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function renderTable(results: Results): string {
  const { parley, relay, ceiling, half, fanout, fanoutCeiling } = summary(results);
  const connectWaves = results.presence.waves.filter((w) => w.kind === 'connect');
  const rows: string[][] = [
    ['chat throughput at saturation (msgs/s)', n(parley?.delivered), `storage ${n(results.storage)}, transport ${n(relay?.delivered)}`, `${pct(parley?.delivered, results.storage)} / ${pct(parley?.delivered, relay?.delivered ?? NaN)}`, '≥ 50% of the lower', (parley?.delivered ?? 0) >= ceiling / 2 ? 'yes' : 'NO'],
    ['chat p99 at half saturation (ms)', `${n(half?.p99, 2)} at ${n(half?.offered)}/s`, `transport p99 at that load ${n(results.chat.relay.find((s) => s.offered === half?.offered)?.p99, 2)}`, '', '≤ 10', (half?.p99 ?? Infinity) <= 10 ? 'yes' : 'NO'],
    ['fan-out to 1,000 members (deliveries/s)', n(fanout?.deliveriesPerSecond), `transport ${n(fanoutCeiling?.deliveriesPerSecond)}`, pct(fanout?.deliveriesPerSecond, fanoutCeiling?.deliveriesPerSecond ?? NaN), '≥ 200,000', (fanout?.deliveriesPerSecond ?? 0) >= 200_000 ? 'yes' : 'NO'],
    ['fan-out p99 to the last member (ms)', `${n(fanout?.p99, 2)} at ${n(fanout?.rate)} msgs/s`, `transport ${n(fanoutCeiling?.p99, 2)} at ${n(fanoutCeiling?.rate)} msgs/s`, '', '≤ 20', (fanout?.p99 ?? Infinity) <= 20 ? 'yes' : 'NO'],
    ['presence: connects accepted (/s)', n(Math.min(...connectWaves.map((w) => w.connectsPerSecond))), '', '', '', ''],
    ['presence: user_status deliveries (/s)', n(Math.max(...results.presence.waves.map((w) => w.statusesPerSecond))), '', '', '', ''],
    ...results.hammer.phases.map((phase) => [`bystander ping p99, ${phase.name} (ms)`, n(phase.p99, 2), `p50 ${n(phase.p50, 2)}, max ${n(phase.max, 1)}`, '', '', '']),
    ['file upload (MB/s)', n(results.files.upload.http), `disk write + fsync ${n(results.files.upload.disk)}`, pct(results.files.upload.http, results.files.upload.disk), '', ''],
    ['file download (MB/s)', n(results.files.download.http), `disk read ${n(results.files.download.disk)}`, pct(results.files.download.http, results.files.download.disk), '', ''],
    [`server memory during a ${n(results.files.bytes / 2 ** 20)} MiB upload (MiB)`, `peak ${n(results.files.memory.peakMiB)}`, `before ${n(results.files.memory.rssBeforeMiB)}`, '', 'flat', ''],
    ...results.retention.map((r) => [`bystander ping p99 while retention deletes ${n(r.messages)} messages, ${r.engine} (ms)`, n(r.deleting.p99, 2), `p50 ${n(r.deleting.p50, 2)}, max ${n(r.deleting.max, 1)}; idle p99 ${n(r.idle.p99, 2)}; deleted in ${n(r.deletedSeconds, 1)} s`, '', '≤ 50', r.deleting.p99 <= 50 ? 'yes' : 'NO']),
    ...results.export.map((e) => {
      const over = Math.max(e.buildPeakMiB, e.downloadPeakMiB) - e.idleMiB;
      return [`server memory over idle, export of ${n(e.messages)} messages and ${n(e.fileBytes / 2 ** 20)} MiB of files, ${e.engine} (MiB)`, n(over), `idle ${n(e.idleMiB)}, building ${n(e.buildPeakMiB)}, downloading ${n(e.downloadPeakMiB)}; built in ${n(e.buildSeconds, 1)} s`, '', '≤ 64', over <= 64 ? 'yes' : 'NO'];
    }),
    ['memory per idle socket (KiB)', n(results.memory.perSocketKiB, 2), `${n(results.memory.sockets)} sockets`, '', '≤ 16', results.memory.perSocketKiB <= 16 ? 'yes' : 'NO'],
    ...pushChatRows(results),
    ...postgresRows(results),
  ];
  const busy = [
    ...results.chat.parley.filter((s) => s.machineLimited).map((s) => `Parley ${s.offered} msgs/s (chat)`),
    ...results.chat.relay.filter((s) => s.machineLimited).map((s) => `relay ${s.offered} msgs/s (chat)`),
    ...results.fanout.parley.filter((s) => s.machineLimited).map((s) => `Parley ${s.rate} msgs/s (fan-out)`),
    ...results.fanout.relay.filter((s) => s.machineLimited).map((s) => `relay ${s.rate} msgs/s (fan-out)`),
  ];
  const limited = [...results.chat.parley, ...results.chat.relay].filter((s) => s.generatorLimited).map((s) => `${s.offered} msgs/s (chat)`)
    .concat([...results.fanout.parley, ...results.fanout.relay].filter((s) => s.generatorLimited).map((s) => `${s.rate} msgs/s (fan-out)`));
  return [
    `${results.machine.cores} × ${results.machine.cpu}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}, ${results.machine.generators} generator processes${results.quick ? ' (--quick)' : ''}`,
    renderRows(rows),
    limited.length ? `generator-limited steps (the load generators, not the server, were the limit): ${[...new Set(limited)].join(', ')}` : 'no step was limited by a single load generator',
    busy.length ? `steps where server and generators together kept every core busy: ${busy.join(', ')}` : 'no step kept every core busy',
  ].join('\n');
}

/** Latency (log scale) against offered load (log scale), one line per system and percentile. */
export function renderChart(results: Results): string {
  const width = 760;
  const height = 440;
  const left = 70;
  const right = 190;
  const top = 40;
  const bottom = 60;
  const series = [
    { name: 'Parley p99', steps: results.chat.parley, key: 'p99' as const, color: '#c0392b', dash: '' },
    { name: 'Parley p50', steps: results.chat.parley, key: 'p50' as const, color: '#c0392b', dash: '6 4' },
    { name: 'uWS relay p99', steps: results.chat.relay, key: 'p99' as const, color: '#2c3e50', dash: '' },
    { name: 'uWS relay p50', steps: results.chat.relay, key: 'p50' as const, color: '#2c3e50', dash: '6 4' },
  ];
  const offered = [...results.chat.parley, ...results.chat.relay].map((s) => s.offered).concat(results.storage);
  const [xMin, xMax] = [Math.min(...offered) / 1.5, Math.max(...offered) * 1.5];
  const [yMin, yMax] = [0.05, 1000];
  const x = (v: number) => left + ((Math.log10(v) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * (width - left - right);
  const y = (v: number) => top + (1 - (Math.log10(Math.min(Math.max(v, yMin), yMax)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (height - top - bottom);
  const parts: string[] = [];
  for (const tick of [0.1, 1, 10, 100, 1000]) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#ddd"/><text x="${left - 8}" y="${y(tick) + 4}" text-anchor="end">${tick}</text>`);
  }
  for (let tick = 10 ** Math.ceil(Math.log10(xMin)); tick <= xMax; tick *= 10) {
    parts.push(`<line x1="${x(tick)}" x2="${x(tick)}" y1="${top}" y2="${height - bottom}" stroke="#ddd"/><text x="${x(tick)}" y="${height - bottom + 18}" text-anchor="middle">${tick.toLocaleString('en')}</text>`);
  }
  parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(50)}" y2="${y(50)}" stroke="#e67e22" stroke-dasharray="2 3"/><text x="${width - right - 4}" y="${y(50) - 5}" text-anchor="end" fill="#e67e22">50 ms: saturation</text>`);
  parts.push(`<line x1="${x(results.storage)}" x2="${x(results.storage)}" y1="${top}" y2="${height - bottom}" stroke="#27ae60" stroke-dasharray="2 3"/><text x="${x(results.storage) - 4}" y="${top + 12}" text-anchor="end" fill="#27ae60">storage ceiling</text>`);
  series.forEach((s, i) => {
    const points = s.steps.map((step) => `${x(step.offered).toFixed(1)},${y(step[s.key]).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`);
    for (const step of s.steps) parts.push(`<circle cx="${x(step.offered).toFixed(1)}" cy="${y(step[s.key]).toFixed(1)}" r="3" fill="${s.color}"/>`);
    parts.push(`<line x1="${width - right + 15}" x2="${width - right + 45}" y1="${top + 20 + i * 22}" y2="${top + 20 + i * 22}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/><text x="${width - right + 52}" y="${top + 24 + i * 22}">${s.name}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${left}" y="22" font-size="15" font-weight="bold">Chat latency against offered load (${results.machine.cores} cores, ${results.date.slice(0, 10)})</text>
${parts.join('\n')}
<text x="${(left + width - right) / 2}" y="${height - 18}" text-anchor="middle">offered load, messages/s (log)</text>
<text x="18" y="${(top + height - bottom) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(top + height - bottom) / 2})">latency, ms (log)</text>
</svg>
`;
}

/** A deployment's chat at saturation; when no step passed, what it delivered at most and at what p99. */
function chatCells(steps: ChatStep[]): [string, string] {
  const top = saturation(steps);
  const half = top ? steps.filter((step) => step.offered <= top.offered / 2).at(-1) : undefined;
  const most = [...steps].sort((a, b) => b.delivered - a.delivered)[0];
  const lowest = steps[0];
  return [
    top ? n(top.delivered) : `— (at most ${n(most?.delivered)} delivered, p99 ${n(most?.p99)} ms)`,
    half ? `${n(half.p99, 2)} at ${n(half.offered)}/s` : `— (${n(lowest?.p99, 1)} at ${n(lowest?.offered)}/s, the lowest step)`,
  ];
}

function fanoutCell(steps: FanoutStep[]): string {
  const best = steps.filter((step) => step.complete && step.p99 < 50).at(-1);
  if (best) return `${n(best.deliveriesPerSecond)} (p99 ${n(best.p99, 1)} ms at ${n(best.rate)} msgs/s)`;
  const most = steps.filter((step) => step.complete).sort((a, b) => b.deliveriesPerSecond - a.deliveriesPerSecond)[0];
  return most ? `— (at most ${n(most.deliveriesPerSecond)}, p99 ${n(most.p99)} ms at ${n(most.rate)} msgs/s)` : '— (none complete)';
}

/** The cluster run's summary: one column per deployment, and what the figures share on this machine. */
/**
 * What N nodes on machines of their own would reach against one PostgreSQL server of this machine's
 * size, from the CPU each message cost at saturation here: each node machine gives one core to its node
 * process (Node.js runs its JavaScript on one), so N nodes take N / (node CPU per message) messages a
 * second; PostgreSQL takes (its cores) / (its CPU per message). The lower of the two is the model's figure.
 */
export function clusterModel(step: ChatStep | undefined, cores: number, nodes: readonly number[]): { nodeMicros: number; databaseMicros: number; rates: { nodes: number; rate: number; bound: 'nodes' | 'database' }[] } | undefined {
  if (!step || step.databaseCpu === undefined || step.delivered === 0) return undefined;
  const nodeMicros = (1e6 * step.serverCpu) / step.delivered;
  const databaseMicros = (1e6 * step.databaseCpu) / step.delivered;
  const database = (cores * 1e6) / databaseMicros;
  return {
    nodeMicros,
    databaseMicros,
    rates: nodes.map((count) => {
      const byNodes = (count * 1e6) / nodeMicros;
      return { nodes: count, rate: Math.min(byNodes, database), bound: byNodes <= database ? 'nodes' : 'database' };
    }),
  };
}

export function renderCluster(results: ClusterResults): string {
  const { deployments, latency, machine } = results;
  const models = deployments.filter((d) => d.engine === 'postgres').map((d) => ({ name: d.name, model: clusterModel(saturation(d.chat), machine.cores, [1, 3, 10]) }));
  const chat = deployments.map((d) => chatCells(d.chat));
  const lane = (l: Latency) => `${n(l.p50, 2)} / ${n(l.p99, 2)} (${n(l.delivered)} messages)`;
  const only = (cell: string) => deployments.map((d) => (d.nodes === latency.nodes ? cell : ''));
  const rows = [
    ['chat, 500 pairs: throughput at saturation (msgs/s)', ...chat.map(([top]) => top)],
    ['chat p99 at half saturation (ms)', ...chat.map(([, half]) => half)],
    ['fan-out to 1,000 members (deliveries/s)', ...deployments.map((d) => fanoutCell(d.fanout))],
    [`delivery at ${n(latency.rate)} msgs/s, same node: p50 / p99 (ms)`, ...only(lane(latency.sameNode))],
    [`delivery at ${n(latency.rate)} msgs/s, across nodes: p50 / p99 (ms)`, ...only(lane(latency.crossNode))],
    ['CPU per message at chat saturation: Parley nodes + PostgreSQL (µs)', ...deployments.map((d) => {
      const top = saturation(d.chat);
      return top ? `${n((1e6 * top.serverCpu) / top.delivered)}${top.databaseCpu === undefined ? '' : ` + ${n((1e6 * top.databaseCpu) / top.delivered)}`}` : '—';
    })],
  ];
  const busy = deployments.flatMap((d) => [
    ...d.chat.filter((s) => s.machineLimited).map((s) => `${d.name} ${s.offered} msgs/s (chat)`),
    ...d.fanout.filter((s) => s.machineLimited).map((s) => `${d.name} ${s.rate} msgs/s (fan-out)`),
  ]);
  return [
    `${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.generators} generator processes${results.quick ? ' (--quick)' : ''}, load average ${n(results.loadAverage, 2)} as the run began`,
    renderRows(rows, ['measure', ...deployments.map((d) => d.name)]),
    `On this ${machine.cores}-core machine the ${latency.nodes} nodes, PostgreSQL, Redis and the ${machine.generators} load generators all share the same ${machine.cores} cores:`,
    `the ${latency.nodes}-node column shows what running as a cluster costs, not what ${latency.nodes} machines would give. PostgreSQL is durable (fsync on).`,
    `Sockets go to the nodes round-robin: with ${latency.nodes} nodes each chat pair's two sockets are on different nodes, and ${latency.nodes - 1} in ${latency.nodes} fan-out members are on another node than the sender.`,
    `Saturation is the highest step with p99 under 50 ms and no errors; the server CPU counted per step is the Parley nodes' only (not PostgreSQL's or Redis's).`,
    busy.length ? `steps where the Parley nodes and generators together kept every core busy: ${busy.join(', ')}` : 'no step had the Parley nodes and generators keep every core busy',
    ...models.flatMap(({ name, model }) => (model
      ? [`Model from ${name} (node ${n(model.nodeMicros)} µs + PostgreSQL ${n(model.databaseMicros)} µs of CPU per message): ${model.rates
        .map(({ nodes, rate, bound }) => `${nodes} node machine${nodes === 1 ? '' : 's'} ${n(rate)} msgs/s (bound by ${bound === 'nodes' ? 'the nodes' : `one ${machine.cores}-core PostgreSQL`})`).join(', ')}`]
      : [])),
  ].join('\n');
}
