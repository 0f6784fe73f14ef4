// The cluster's connection to Redis: commands fail at once while Redis is away (nothing queues up
// in memory), the connection comes back by itself, and the log says when it goes and when it returns.
import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.ts';

/** Redis did not answer (down, restarting, unreachable, too slow): the caller falls back or reports it. */
export class RedisUnavailable extends Error {
  override readonly name: string = 'RedisUnavailable';
}

/** Redis did not answer within `commandTimeoutMs` while connected: the command may still have run there. */
export class RedisLate extends RedisUnavailable {
  override readonly name = 'RedisLate';
}

/**
 * A Lua script. Sent whole each time (EVAL; Redis keeps it compiled): EVALSHA with a fallback on
 * NOSCRIPT would send the fallback after commands issued meanwhile, and callers rely on their
 * commands reaching Redis in the order they were issued.
 */
export type Script = { readonly lua: string };

export const script = (lua: string): Script => ({ lua });

export type RedisLink = {
  readonly client: Redis;
  /**
   * What every key of this link's commands starts with (the client adds it; '' for none); a channel
   * must be given it by hand (Redis's pub/sub channels are shared by all its databases, ioredis does not prefix them).
   */
  readonly namespace: string;
  /** Whether the connection is ready now (a command may still fail). */
  up(): boolean;
  /** Called each time the connection is ready again after it was lost (not at the first connect). */
  onReconnect(listener: () => void): void;
  /** Runs a script; throws RedisUnavailable when Redis cannot answer. Calls reach Redis in the order they are made. */
  run(code: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
  /** Runs a command; throws RedisUnavailable when Redis cannot answer. */
  call<T>(command: (client: Redis) => Promise<T>): Promise<T>;
  /** Another connection with the same settings, for subscriptions (a subscribed connection can send nothing else). */
  subscriber(): Redis;
  close(): Promise<void>;
};

/** How long one command may take before it counts as failed (it may still run on Redis). */
export const commandTimeoutMs = 1000;

/** The longest wait between two attempts to reconnect: every node is back within this of Redis. */
export const reconnectMaxMs = 2000;

/**
 * Deliberately not ioredis's defaults, which queue commands while disconnected and retry each 20
 * times: with Redis away that is memory growing per request and requests hanging for seconds.
 */
const options = {
  enableOfflineQueue: false, // a command while disconnected fails at once
  maxRetriesPerRequest: 0, // a command lost with the connection fails, and is not sent again
  autoResendUnfulfilledCommands: false,
  commandTimeout: commandTimeoutMs,
  connectTimeout: 2000,
  // At close, a socket that is already gone would otherwise hold the process up for 2 s (ioredis waits for its 'close').
  disconnectTimeout: 100,
  // Reconnect for ever, every 100 ms doubling to 2 s: back within 2 s of Redis.
  retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times - 1, 5), reconnectMaxMs),
  lazyConnect: true,
} satisfies RedisOptions;

/** Errors that Redis answers while it cannot serve (loading, a replica, out of memory), as opposed to a bug in a script. */
const unavailableReplies = /^(LOADING|READONLY|MASTERDOWN|BUSY|OOM|NOREPLICAS|TRYAGAIN|CLUSTERDOWN)\b/;

function classify(error: unknown): Error {
  if (error instanceof ReplyError && !unavailableReplies.test(String((error as Error).message))) return error as Error;
  // ioredis's commandTimeout: the command went out on a live connection and may still run.
  if (error instanceof Error && error.message === 'Command timed out') return new RedisLate(`Redis answered late: ${error.message}`, { cause: error });
  return new RedisUnavailable(`Redis unavailable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/**
 * Connects to `url`; rejects when the first connection fails (a wrong REDIS_URL stops the start with
 * its reason). After that, outages are reported in the log and waited out.
 */
export async function connectRedis(url: string, log: Logger, name = 'parley', namespace = ''): Promise<RedisLink> {
  const client = new Redis(url, { ...options, connectionName: name, keyPrefix: namespace });
  const listeners = new Set<() => void>();
  let downSince: number | undefined;
  let connected = false;
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
    // Every failed reconnection emits an error: the log says it once per outage.
    if (connected && downSince === undefined) {
      downSince = Date.now();
      log.warn('redis unavailable', { error: error.message });
    }
  });
  client.on('close', () => {
    if (connected && downSince === undefined) {
      downSince = Date.now();
      log.warn('redis unavailable', { error: 'connection closed' });
    }
  });
  client.on('ready', () => {
    if (!connected || downSince === undefined) return;
    log.info('redis available again', { downMs: Date.now() - downSince });
    downSince = undefined;
    for (const listener of listeners) listener();
  });
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    const why = lastError ?? error;
    throw new Error(`REDIS_URL: cannot connect to ${redactedUrl(url)}: ${why instanceof Error ? why.message : String(why)}`);
  }
  connected = true;

  async function call<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    try {
      return await command(client);
    } catch (error) {
      throw classify(error);
    }
  }

  return {
    client,
    namespace,
    up: () => client.status === 'ready',
    onReconnect: (listener) => void listeners.add(listener),
    async run(code, keys, args) {
      return call((redis) => redis.eval(code.lua, keys.length, ...keys, ...args));
    },
    call,
    subscriber: () => client.duplicate({ connectionName: `${name}-bus`, lazyConnect: false }),
    async close() {
      listeners.clear();
      connected = false;
      // quit() lets Redis finish what was sent; disconnect() also ends a reconnection under way.
      await client.quit().catch(() => {});
      client.disconnect();
    },
  };
}

/** The URL without its password, for messages. */
export function redactedUrl(url: string): string {
  if (!URL.canParse(url)) return 'an unreadable URL';
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
