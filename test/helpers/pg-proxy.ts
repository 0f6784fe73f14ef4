// A TCP proxy to PostgreSQL that reads what clients send (the frontend protocol: simple queries, and
// the Parse and Bind of prepared statements) and can stop one connection at the first statement whose
// text matches: what was sent before it has run on the server, that statement and what follows wait.
// So a test can hold a node's transaction open at a chosen point, then let it go or kill the node.
// Or it can let that statement and what follows run, and hold back the server's answers instead, as a
// slow network or a busy client would: the node has not heard what PostgreSQL has already done.
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

export type PgProxy = {
  /** A URL like `target` but through the proxy. */
  url: string;
  /**
   * From now on, the first statement (on any connection) whose text matches stops its connection there;
   * with `answers`, it and what follows go on to the server, and the server's answers wait instead.
   */
  holdAt(match: (statement: string) => boolean, options?: { answers?: boolean }): void;
  /** Resolves once a client sends a statement whose text matches (from now on). */
  sent(match: (statement: string) => boolean): Promise<string>;
  /** Resolves once a connection is stopped at a matching statement. */
  held(): Promise<string>;
  /** Lets the stopped connection go on. */
  release(): void;
};

const sslRequest = 80877103;
const gssRequest = 80877104;

export async function startPgProxy(t: TestContext, target: string): Promise<PgProxy> {
  const to = new URL(target);
  const sockets = new Set<Socket>();
  let match: ((statement: string) => boolean) | undefined;
  let holdAnswers = false;
  const watches = new Set<{ match(statement: string): boolean; resolve(statement: string): void }>();
  let stopped: { statement: string; resume(): void } | undefined;
  let waiting: ((statement: string) => void) | undefined;

  const server = createServer((client) => {
    const upstream = connect(Number(to.port), to.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      // Forwarded as it comes: Nagle's wait for the peer's delayed ACK cost 40 ms a round trip.
      socket.setNoDelay(true);
      socket.on('error', () => {});
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    /** The server's answers not passed on yet because this connection's answers are held. */
    let answers: Buffer[] | undefined;
    upstream.on('data', (chunk: Buffer) => (answers ? answers.push(chunk) : client.write(chunk)));
    /** Prepared statements' texts by name ('' is the unnamed one). */
    const named = new Map<string, string>();
    let started = false;
    let pending = Buffer.alloc(0);
    /** Bytes not forwarded yet because this connection is stopped. */
    let held: Buffer[] | undefined;

    const forward = (bytes: Buffer) => (held ? held.push(bytes) : upstream.write(bytes));
    const text = (payload: Buffer, from: number) => {
      const end = payload.indexOf(0, from);
      return { value: payload.subarray(from, end).toString('utf8'), next: end + 1 };
    };
    function statementOf(type: string, payload: Buffer): string | undefined {
      if (type === 'Q') return text(payload, 0).value;
      if (type === 'P') {
        const name = text(payload, 0);
        const query = text(payload, name.next).value;
        named.set(name.value, query);
        return query;
      }
      if (type === 'B') {
        const portal = text(payload, 0);
        return named.get(text(payload, portal.next).value);
      }
      return undefined;
    }

    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (!started) {
          if (pending.length < 8) return;
          const length = pending.readInt32BE(0);
          if (pending.length < length) return;
          const code = pending.readInt32BE(4);
          if (code !== sslRequest && code !== gssRequest) started = true;
          forward(pending.subarray(0, length));
          pending = pending.subarray(length);
          continue;
        }
        if (pending.length < 5) return;
        const length = pending.readInt32BE(1);
        if (pending.length < length + 1) return;
        const message = pending.subarray(0, length + 1);
        pending = pending.subarray(length + 1);
        const statement = statementOf(String.fromCharCode(message[0]!), message.subarray(5));
        if (statement !== undefined) {
          for (const watch of watches) {
            if (!watch.match(statement)) continue;
            watches.delete(watch);
            watch.resolve(statement);
          }
        }
        if (!held && !answers && match && statement !== undefined && match(statement)) {
          match = undefined;
          if (holdAnswers) answers = [];
          else held = [];
          stopped = {
            statement,
            resume() {
              const bytes = held ?? [];
              held = undefined;
              for (const part of bytes) upstream.write(part);
              const back = answers ?? [];
              answers = undefined;
              for (const part of back) client.write(part);
            },
          };
          waiting?.(statement);
        }
        forward(Buffer.from(message));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    holdAt(given, options) {
      match = given;
      holdAnswers = options?.answers === true;
    },
    sent: (given) => new Promise((resolve) => watches.add({ match: given, resolve })),
    held: () => (stopped ? Promise.resolve(stopped.statement) : new Promise((resolve) => (waiting = resolve))),
    release() {
      const now = stopped;
      stopped = undefined;
      waiting = undefined;
      now?.resume();
    },
  };
}
