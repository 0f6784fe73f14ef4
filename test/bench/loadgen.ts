// A load generator process: holds many sockets and runs what the orchestrator asks over IPC.
// Frames are inspected with indexOf, not JSON.parse, so the generator spends its time on sockets.
import WebSocket from 'ws';

type Entry = { url: string; cookie?: string };
type Command =
  | { cmd: 'connect'; entries: Entry[]; concurrency: number }
  | { cmd: 'chat'; rate: number; seconds: number; pairs: [conversation: number, a: number, b: number, lane?: number][]; roots?: number[] }
  | { cmd: 'fanout-send'; rate: number; seconds: number; socket: number; conversation: number }
  | { cmd: 'ready' }
  | { cmd: 'reset' }
  | { cmd: 'cpu' }
  | { cmd: 'report' }
  | { cmd: 'close'; from: number; to: number };

const now = () => performance.timeOrigin + performance.now();
const sockets: WebSocket[] = [];
/** Which side of its pair each socket is (the code of 'a' or 'b'); a socket ignores frames of its own side. */
const side: number[] = [];
/** The lane of each socket's pair (0 unless the chat command names one): each latency is reported with its lane. */
const lane: number[] = [];

let latencies: number[] = [];
/** The lane of each of `latencies`. */
let lanes: number[] = [];
let delivered = 0;
let errors = 0;
let statuses = 0;
let lastFrameAt = 0;
/** When the last chat message reached its receiver. */
let lastDeliveredAt = 0;
/** Fan-out: per message index, how many sockets here got it, and when the last did. */
let fanout = new Map<number, { count: number; last: number; sent: number }>();
/** Sockets waiting for their `ping` to be answered (see `ready`). */
const pongs = new Map<number, () => void>();

const F = 'f'.charCodeAt(0);
const QUOTE = '"'.charCodeAt(0);

/** Reads a frame in place (no decoding of the whole frame): errors, presence, or a timestamped content. */
function onFrame(index: number, frame: Buffer): void {
  const at = now();
  lastFrameAt = at;
  if (frame.includes('"success":false')) {
    errors++;
    return;
  }
  if (frame.includes('"user_status"')) {
    statuses++;
    return;
  }
  if (pongs.size && frame.includes('"data":"pong"')) {
    pongs.get(index)?.();
    pongs.delete(index);
    return;
  }
  const at0 = frame.indexOf('"content":"');
  if (at0 < 0) return;
  const start = at0 + 11;
  const kind = frame[start];
  const close = frame.indexOf(QUOTE, start);
  if (kind === F) {
    const [, id, sent] = frame.toString('latin1', start, close).split(':');
    const key = Number(id);
    const record = fanout.get(key);
    if (record) {
      record.count++;
      record.last = at;
    } else fanout.set(key, { count: 1, last: at, sent: Number(sent) });
    return;
  }
  if (kind === side[index]) return; // the sender's own reply
  delivered++;
  lastDeliveredAt = at;
  latencies.push(at - Number(frame.toString('latin1', start + 2, close)));
  lanes.push(lane[index] ?? 0);
}

function open(entry: Entry): Promise<boolean> {
  return new Promise((resolve) => {
    const index = sockets.length;
    const socket = new WebSocket(entry.url, { headers: entry.cookie ? { cookie: entry.cookie } : {}, perMessageDeflate: false });
    sockets.push(socket);
    side.push(0);
    socket.on('message', (data: Buffer) => onFrame(index, data));
    socket.once('open', () => resolve(true));
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

async function connect(entries: Entry[], concurrency: number) {
  const start = now();
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < entries.length) if (!(await open(entries[next++]!))) failed++;
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { opened: entries.length - failed, failed, seconds: (now() - start) / 1000 };
}

/** Sends at `rate` per second for `seconds`, spreading sends over 2 ms ticks; resolves with what it managed. */
function paced(rate: number, seconds: number, send: (n: number) => void): Promise<{ sent: number; seconds: number }> {
  return new Promise((resolve) => {
    const start = now();
    let sent = 0;
    const tick = () => {
      const elapsed = (now() - start) / 1000;
      const due = Math.min(Math.floor(rate * elapsed), Math.floor(rate * seconds));
      while (sent < due) send(sent++);
      if (elapsed < seconds) setTimeout(tick, 2);
      else resolve({ sent, seconds: elapsed });
    };
    tick();
  });
}

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'connect':
      return connect(command.entries, command.concurrency);
    case 'chat': {
      for (const [, a, b, pairLane = 0] of command.pairs) {
        side[a] = 'a'.charCodeAt(0);
        side[b] = 'b'.charCodeAt(0);
        lane[a] = lane[b] = pairLane;
      }
      const cpu = process.cpuUsage();
      const { pairs, roots } = command;
      // With `roots` (one per pair), every message is a reply in its pair's thread.
      const threads = pairs.map((_, i) => (roots ? `,"thread_id":${roots[i]}` : ''));
      const result = await paced(command.rate, command.seconds, (n) => {
        const [conversation, a, b] = pairs[n % pairs.length]!;
        const fromA = Math.floor(n / pairs.length) % 2 === 0;
        const socket = sockets[fromA ? a : b]!;
        if (socket.readyState !== WebSocket.OPEN) return void errors++;
        socket.send(`{"type":"send_message","conversation_id":${conversation},"content":"${fromA ? 'a' : 'b'}:${now().toFixed(3)}"${threads[n % pairs.length]}}`);
      });
      const used = process.cpuUsage(cpu);
      return { ...result, cpu: (used.user + used.system) / 1e6 / result.seconds };
    }
    case 'fanout-send': {
      const socket = sockets[command.socket]!;
      return paced(command.rate, command.seconds, (n) =>
        socket.send(`{"type":"send_message","conversation_id":${command.conversation},"content":"f:${n}:${now().toFixed(3)}"}`),
      );
    }
    case 'ready': {
      // Every open socket pings and waits for the answer: the server has taken every socket in (its token
      // checked, its conversations subscribed, its presence announced) and is idle again.
      const start = now();
      await Promise.all(sockets.map((socket, index) => socket.readyState !== WebSocket.OPEN ? undefined : new Promise<void>((resolve) => {
        pongs.set(index, resolve);
        socket.send('{"type":"ping"}');
      })));
      return { seconds: (now() - start) / 1000 };
    }
    case 'cpu': {
      const used = process.cpuUsage();
      return (used.user + used.system) / 1e6;
    }
    case 'reset':
      latencies = [];
      lanes = [];
      delivered = 0;
      errors = 0;
      statuses = 0;
      fanout = new Map();
      return { ok: true };
    case 'report':
      return { latencies, lanes, delivered, errors, statuses, lastFrameAt, lastDeliveredAt, fanout: [...fanout], open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length };
    case 'close': {
      const closing = sockets.slice(command.from, command.to).filter((socket) => socket.readyState === WebSocket.OPEN);
      const start = now();
      await Promise.all(closing.map((socket) => new Promise((resolve) => {
        socket.once('close', resolve);
        socket.close();
      })));
      return { closed: closing.length, seconds: (now() - start) / 1000 };
    }
  }
}

process.on('message', (message: { id: number; command: Command }) => {
  handle(message.command).then(
    (result) => process.send!({ id: message.id, result }),
    (error: unknown) => process.send!({ id: message.id, error: String(error) }),
  );
});
