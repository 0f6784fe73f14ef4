// A TCP proxy between clients and the server: it keeps one address while the server restarts on
// other ports, and cuts or freezes connections on demand, as a flaky network does.
import { createServer, connect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

type Pair = { client: Socket; server: Socket; head: string; asked: string };

export type Proxy = {
  port: number;
  /** `http://127.0.0.1:<port>`: the address clients use. */
  url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Sends new connections to the server on this port. */
  retarget(port: number): void;
  /** Destroys the open connections (those whose first line matches, when given) on both sides; answers how many. */
  cut(firstLine?: RegExp): number;
  /**
   * Stops forwarding on the open connections without closing them: a dead peer; with `replies`
   * only what the server sends is held back (requests arrive, their replies never do).
   */
  freeze(which?: 'both' | 'replies'): void;
  /**
   * The next request (on any connection, kept alive or new) whose first line matches reaches the
   * server, and its answer is lost: the connection is cut when the answer comes. Resolves then.
   */
  loseAnswer(requestLine: RegExp): Promise<void>;
};

export async function startProxy(t: TestContext, targetPort: number): Promise<Proxy> {
  let target = targetPort;
  let accepted = 0;
  const pairs = new Set<Pair>();
  let losing: { line: RegExp; lost: () => void } | undefined;
  const server = createServer((client) => {
    accepted++;
    const upstream = connect(target, '127.0.0.1');
    const pair: Pair = { client, server: upstream, head: '', asked: '' };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      const line = chunk.toString('latin1').split('\r\n', 1)[0]!;
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(line)) pair.asked = line;
      if (!pair.head) pair.head = line;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (losing && losing.line.test(pair.asked)) {
        losing.lost();
        losing = undefined;
        return end();
      }
      client.write(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  t.after(() => {
    for (const pair of pairs) pair.client.destroy(), pair.server.destroy();
    server.close();
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    retarget(port) {
      target = port;
    },
    cut(firstLine) {
      let count = 0;
      for (const pair of [...pairs]) {
        if (firstLine && !firstLine.test(pair.head)) continue;
        pairs.delete(pair);
        pair.client.destroy();
        pair.server.destroy();
        count++;
      }
      return count;
    },
    loseAnswer(requestLine) {
      return new Promise((lost) => (losing = { line: requestLine, lost }));
    },
    freeze(which = 'both') {
      for (const pair of pairs) {
        pair.server.removeAllListeners('data').pause();
        if (which === 'both') pair.client.removeAllListeners('data').pause();
      }
    },
  };
}
