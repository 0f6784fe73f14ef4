// Nodes of one cluster behind Debian's nginx, set up as docs/cluster.md says: deploy/nginx/parley.conf with
// deploy/nginx/parley-nodes.conf's upstream block, the nodes' ports put in. Clients go in only through
// nginx (https and wss, a self-signed certificate they trust); the nodes share one FILES_DIR; a node
// killed can be started again on its port, as a service manager would.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { freePort, startServer, type LogLine, type TestServer } from './server.ts';
import { selfSignedCertificate } from './installed.ts';
import { nodesSiteFrom, startNginx } from './nginx.ts';
import { startNodes, type Entry } from './cluster.ts';
import type { TestRedis } from './redis.ts';
import type { ConnectOptions } from '../../protocol/connect.ts';

export type Balanced = Entry & {
  readonly ca: string;
  /** The nodes, node1 first; `restart` puts the new process in its place. */
  readonly nodes: TestServer[];
  readonly redis: TestRedis;
  /** The FILES_DIR every node has. */
  readonly filesDir: string;
  /** The `ws` package's WebSocket trusting nginx's certificate, for protocol/connect.ts. */
  readonly WebSocket: NonNullable<ConnectOptions['WebSocket']>;
  /** Starts node `index` (0-based) again, stopped or killed, on its port, database and NODE_ID. */
  restart(index: number): Promise<TestServer>;
};

/** `count` nodes on one PostgreSQL and one Redis behind nginx, with `env` besides; all stopped after the test. */
export async function nodesBehindNginx(t: TestContext, count: number, env: Record<string, string> = {}): Promise<Balanced> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-nginx-'));
  chmodSync(dir, 0o755); // nginx's workers run as nobody when the test runs as root
  const filesDir = mkdtempSync(join(tmpdir(), 'parley-files-'));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(filesDir, { recursive: true, force: true });
  });
  const ca = readFileSync(selfSignedCertificate(dir).cert, 'utf8');
  // Ports of their own, not 0: a node started again must come back where nginx looks for it.
  const ports = new Set<number>();
  while (ports.size < count + 2) ports.add(await freePort());
  const [https, plain, ...nodePorts] = [...ports] as [number, number, ...number[]];
  // As deploy/parley@.service runs a node: behind nginx on loopback, cookies for https.
  const nodes = await startNodes(t, count, { TRUST_PROXY: '127.0.0.1', COOKIE_SECURE: 'true', FILES_DIR: filesDir, ...env }, (i) => ({ PORT: String(nodePorts[i - 1]) }));
  await startNginx(t, nodesSiteFrom({ http: plain, https, nodes: nodePorts }, dir), dir, https, ca);
  class Trusting extends WebSocket {
    constructor(url: string, options: WebSocket.ClientOptions = {}) {
      super(url, { ...options, ca });
    }
  }
  return {
    http: `https://127.0.0.1:${https}`,
    ws: `wss://127.0.0.1:${https}/ws`,
    ca,
    nodes,
    redis: nodes.redis,
    filesDir,
    WebSocket: Trusting,
    async restart(index) {
      const old = nodes[index]!;
      nodes[index] = await startServer(t, old.env, old.dir);
      return nodes[index];
    },
  };
}

/** The NODE_ID of each node where a socket of `username` opened, in the order of its nodes' lines ('connected'). */
export function landed(nodes: readonly TestServer[], username: string): string[] {
  const lines = nodes.flatMap((node) => node.logs.filter((line: LogLine) => line.msg === 'connected' && line.user === username));
  return lines.sort((a, b) => String(a.time).localeCompare(String(b.time))).map((line) => line.node_id as string);
}
