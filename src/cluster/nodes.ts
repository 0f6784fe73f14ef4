// Nodes of one cluster: each has an id (NODE_ID, or one made up at start) and beats in Redis every
// NODE_TIMEOUT / 4 seconds; a node that stops beating is dropped by whichever node sweeps first, at
// most NODE_TIMEOUT seconds after its last beat, and the users who were only on it go offline.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../log.ts';
import { clusterKeyLua, keys, nowLua, totalLua } from './lua.ts';
import { reconnectMaxMs, RedisUnavailable, script, type RedisLink } from './redis.ts';

export type NodeInfo = { id: string; host: string; pid: number; started: number };

/** An id for a node started without NODE_ID: this machine's name and a random part, new at every start. */
export function generatedNodeId(): string {
  const host = hostname().split('.')[0]!.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40);
  return `${/^[A-Za-z0-9]/.test(host) ? host : 'node'}-${randomBytes(3).toString('hex')}`;
}

/**
 * Beats every quarter of the timeout, and a node counts as dead three quarters of the timeout after
 * its last beat: found by the next sweep (every quarter), so within the timeout, while a node whose
 * event loop stalls for two beats is not taken for dead.
 */
export function heartbeatTiming(timeoutSeconds: number): { everyMs: number; deadlineMs: number } {
  const everyMs = timeoutSeconds * 250;
  return { everyMs, deadlineMs: timeoutSeconds * 1000 - everyMs };
}

const beatScript = script(`${nowLua}
local now = now_ms()
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
local owner = redis.call('HGET', KEYS[2], 'incarnation')
if deadline and owner and owner ~= ARGV[2] then return {'taken', tonumber(deadline) - now} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], 'incarnation', ARGV[2], 'info', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
if deadline then return {'alive', 0} end
return {'joined', 0}
`);

/**
 * Drops nodes — those past their deadline (ARGV[1] empty), or the one named (a node leaving) — with
 * their sockets, and answers the dropped ids and the users who were on no other node.
 */
const dropScript = script(`${nowLua}${totalLua}
local dead
if ARGV[1] == '' then dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms()) else dead = {ARGV[1]} end
if #dead == 0 then return {{}, {}} end
for _, id in ipairs(dead) do redis.call('ZREM', KEYS[1], id) end
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local gone, seen = {}, {}
for _, id in ipairs(dead) do
  local counts = redis.call('HGETALL', cluster_key('sockets:' .. id))
  for i = 1, #counts, 2 do
    local user = counts[i]
    if not seen[user] then
      seen[user] = true
      if total(members, user) == 0 then gone[#gone + 1] = user end
    end
  end
  redis.call('DEL', cluster_key('sockets:' .. id), cluster_key('node:' .. id))
end
return {dead, gone}
`);

const liveScript = script(`${nowLua}${clusterKeyLua}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now_ms(), '+inf')
local out = {}
for _, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', cluster_key('node:' .. id), 'info') or '{}'
end
return out
`);

export type Nodes = ReturnType<typeof createNodes>;

export type NodesOptions = {
  link: RedisLink;
  id: string;
  timeoutSeconds: number;
  log: Logger;
  /** Users who went offline because the nodes they were on were dropped (dead, or left). */
  gone(users: number[], nodes: string[]): void;
};

export function createNodes(options: NodesOptions) {
  const { link, id, log } = options;
  const { everyMs, deadlineMs } = heartbeatTiming(options.timeoutSeconds);
  const incarnation = randomBytes(8).toString('hex');
  const info = JSON.stringify({ host: hostname(), pid: process.pid, started: Date.now() });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /**
   * Redis was away: every node's deadline may have passed meanwhile. Dropping them as soon as this
   * node is back would take the others for dead (and their users offline) only because they
   * reconnect a little later: no sweep until they have had time to reconnect and beat.
   */
  let sweepFrom = 0;
  link.onReconnect(() => (sweepFrom = Date.now() + deadlineMs + reconnectMaxMs));

  type Beat = { state: 'alive' | 'joined' } | { state: 'taken'; remainingMs: number };

  async function beat(): Promise<Beat> {
    const [state, remaining] = (await link.run(beatScript, [keys.nodes, keys.node(id)], [id, incarnation, deadlineMs, 2 * options.timeoutSeconds * 1000, info])) as [string, number];
    return state === 'taken' ? { state, remainingMs: remaining } : { state: state as 'alive' | 'joined' };
  }

  async function drop(which: string): Promise<void> {
    const [dead, gone] = (await link.run(dropScript, [keys.nodes], [which])) as [string[], string[]];
    if (dead.length === 0) return;
    if (which === '') log.warn('nodes dropped as dead', { nodes: dead, users: gone.length });
    if (gone.length > 0) options.gone(gone.map(Number), dead);
  }

  return {
    id,
    /** Milliseconds between beats, and after the last beat before a node counts as dead. */
    everyMs,
    deadlineMs,
    /**
     * Joins the cluster. A previous run with the same NODE_ID that did not leave is waited out (at
     * most the deadline) and dropped; a node still beating with this id stops the start.
     */
    async join(): Promise<void> {
      const until = Date.now() + deadlineMs + everyMs;
      for (;;) {
        await drop('');
        const result = await beat();
        if (result.state !== 'taken') return;
        if (Date.now() > until) throw new Error(`NODE_ID=${id} is in use by another node that is still running`);
        log.warn('waiting for a previous run of this node to expire', { node: id, waitMs: result.remainingMs });
        await new Promise((resolve) => setTimeout(resolve, Math.max(50, Math.min(result.remainingMs + 10, everyMs))));
      }
    },
    /** Beats and sweeps from now on; `afterBeat` runs after each beat ('joined': this node had been dropped, its presence must be written anew). */
    start(afterBeat: (state: 'alive' | 'joined') => Promise<void>): void {
      const tick = async () => {
        try {
          const result = await beat();
          if (result.state === 'taken') log.error('NODE_ID is in use by another node', { node: id });
          else await afterBeat(result.state);
          if (Date.now() >= sweepFrom) await drop('');
        } catch (error) {
          // Redis away: the link has said so; the next beat tries again.
          if (!(error instanceof RedisUnavailable)) log.error('heartbeat failed', { error });
        }
        if (!stopped) timer = setTimeout(tick, everyMs).unref();
      };
      timer = setTimeout(tick, everyMs).unref();
    },
    /** The nodes that have beaten within their deadline, this one included. */
    async live(): Promise<NodeInfo[]> {
      const flat = (await link.run(liveScript, [keys.nodes], [])) as string[];
      const nodes: NodeInfo[] = [];
      for (let i = 0; i < flat.length; i += 2) nodes.push({ id: flat[i]!, ...(JSON.parse(flat[i + 1]!) as Omit<NodeInfo, 'id'>) });
      return nodes;
    },
    /** Stops beating and leaves the cluster at once: users only on this node go offline (reported to `gone`). */
    async leave(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await drop(id);
    },
  };
}
