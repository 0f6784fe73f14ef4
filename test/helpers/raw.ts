// HTTP over bare node:net sockets, for what well-behaved clients never do: bodies trickled, cut off, garbled, or still being sent after the answer.
import { sleep } from './wait.ts';
import { connect } from 'node:net';

export type RawResult = {
  /** The status of the first final answer (a `100 Continue` is skipped); undefined when none came. */
  status: number | undefined;
  /** Final answers seen on the connection (pipelined requests get one each). */
  answers: number;
  /** Everything the server sent, as text. */
  text: string;
  /** How the connection ended: the server closed it (`closed`, `reset`), or it was still open when the client gave up (`open`). */
  ended: 'closed' | 'reset' | 'open';
  /** Milliseconds from connecting to the first final answer (or to the end, when none came). */
  answeredAfter: number;
};

export type RawRequest = {
  /** Everything up to and including the blank line, or garbage. */
  head: string;
  /** Written piece by piece, awaiting each (a generator may sleep between pieces); stops once the server has closed. */
  body?: Iterable<Buffer | string> | AsyncIterable<Buffer | string>;
  /** After the body: reset the connection instead of waiting for the answer (a client that goes away). */
  abort?: boolean;
  /** How long to wait, once everything is written, before giving up on the connection. */
  waitMs?: number;
  /** Give up on the connection (\`open\`) as soon as this many final answers came, not after \`waitMs\`. */
  answers?: number;
};

/** The statuses of the final answers in `text`, in order: each head read, its Content-Length of body skipped, a 1xx passed over. */
function statuses(text: string): number[] {
  const found: number[] = [];
  let at = 0;
  for (let end = text.indexOf('\r\n\r\n', at); end !== -1; end = text.indexOf('\r\n\r\n', at)) {
    const lines = text.slice(at, end).split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]!);
    if (!status) break;
    if (!status[1]!.startsWith('1')) found.push(Number(status[1]));
    const length = lines.find((line) => /^content-length:/i.test(line));
    at = end + 4 + (length ? Number(length.slice(length.indexOf(':') + 1)) : 0);
  }
  return found;
}

export function raw(port: number, request: RawRequest): Promise<RawResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let answeredAfter: number | undefined;
    let ended: RawResult['ended'] | undefined;
    const finish = () => {
      clearTimeout(timer);
      const answers = statuses(text);
      resolve({ status: answers[0], answers: answers.length, text, ended: ended ?? 'open', answeredAfter: answeredAfter ?? Date.now() - started });
      socket.destroy();
    };
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (answeredAfter === undefined && statuses(text).length > 0) answeredAfter = Date.now() - started;
      if (request.answers !== undefined && statuses(text).length >= request.answers) finish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      ended ??= error.code === 'ECONNRESET' || error.code === 'EPIPE' ? 'reset' : 'closed';
    });
    socket.on('close', () => {
      ended ??= 'closed';
      finish();
    });
    socket.on('connect', async () => {
      const write = (piece: Buffer | string) => new Promise<void>((done) => {
        if (socket.destroyed || ended) return done();
        socket.write(piece, () => done());
      });
      await write(request.head);
      for await (const piece of request.body ?? []) {
        if (socket.destroyed || ended) break;
        await write(piece);
      }
      if (request.abort) {
        socket.resetAndDestroy();
        return;
      }
      if (!socket.destroyed) timer = setTimeout(finish, request.waitMs ?? 1000);
    });
  });
}


/** `count` pieces of `size` bytes, `gapMs` apart. */
export async function* trickle(count: number, size: number, gapMs: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < count; i++) {
    if (i > 0) await sleep(gapMs);
    yield Buffer.alloc(size, 0x61);
  }
}

/** A multipart/form-data body with one `file` part of `size` bytes, and the Content-Type that announces it. */
export function multipart(size: number, boundary = 'parley-lifecycle-boundary'): { contentType: string; body: Buffer } {
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      Buffer.alloc(size, 0x61),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
  };
}

/** A request head: `POST /files HTTP/1.1` and its headers, each `name: value`, then the blank line. */
export function head(requestLine: string, headers: Record<string, string | number>): string {
  return `${requestLine}\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}
