// Cluster-wide presence: a user is online while any node of the cluster has a socket of theirs. Each
// node keeps its own count per user in Redis, written as an absolute number (so a lost write heals
// with the next), and each change is one script that also says whether the user came online or went
// offline cluster-wide: two nodes racing are serialised by Redis, so exactly one of them sees it.
import type { Logger } from '../log.ts';
import { clusterKeyLua, keys, nowLua, rejoinLua, totalLua } from './lua.ts';
import { heartbeatTiming } from './nodes.ts';
import { RedisUnavailable, script, type RedisLink } from './redis.ts';

export type Change = 'online' | 'offline' | null;

/** A change of a user's count on this node: whether it moved them online or offline, and their sockets cluster-wide after it. */
export type Counted = { change: Change; total: number };

/** Opening a socket: refused when it would take the user past `max` sockets cluster-wide (nothing is written then). */
export type Admission = ({ admitted: true } & Counted) | { admitted: false; total: number };

/** Transitions found when a node writes all its counts again, to announce like any other. */
export type Changes = { online: number[]; offline: number[] };

const setScript = script(`${nowLua}${totalLua}${rejoinLua}
local now = now_ms()
local rejoined = rejoin(KEYS[1], ARGV[1], tonumber(ARGV[5]), now)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[2])) or 0
local here = tonumber(ARGV[3])
local before = total(members, ARGV[2])
local after = before - mine + here
local max = tonumber(ARGV[4])
if max > 0 and here > mine and after > max then return {'refused', before, rejoined} end
if here > 0 then redis.call('HSET', KEYS[2], ARGV[2], here) else redis.call('HDEL', KEYS[2], ARGV[2]) end
local change = ''
if before == 0 and after > 0 then change = 'online' elseif before > 0 and after == 0 then change = 'offline' end
return {change, after, rejoined}
`);

const onlineScript = script(`${clusterKeyLua}
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local totals = {}
for i = 1, #ARGV do totals[i] = 0 end
for _, member in ipairs(members) do
  local counts = redis.call('HMGET', cluster_key('sockets:' .. member), unpack(ARGV))
  for i = 1, #ARGV do totals[i] = totals[i] + (tonumber(counts[i]) or 0) end
end
return totals
`);

/** Users with a socket on some node, each counted once. */
const countScript = script(`${clusterKeyLua}
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local seen, count = {}, 0
for _, member in ipairs(members) do
  for _, user in ipairs(redis.call('HKEYS', cluster_key('sockets:' .. member))) do
    if not seen[user] then
      seen[user] = true
      count = count + 1
    end
  end
end
return count
`);

/** ARGV: node id, deadline ms, then user, count pairs: this node's whole state, replacing what Redis had. */
const resyncScript = script(`${nowLua}${totalLua}${rejoinLua}
rejoin(KEYS[1], ARGV[1], tonumber(ARGV[2]), now_ms())
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local old, new, users = {}, {}, {}
local flat = redis.call('HGETALL', KEYS[2])
for i = 1, #flat, 2 do old[flat[i]] = tonumber(flat[i + 1]); users[#users + 1] = flat[i] end
for i = 3, #ARGV, 2 do
  if not old[ARGV[i]] then users[#users + 1] = ARGV[i] end
  new[ARGV[i]] = tonumber(ARGV[i + 1])
end
local online, offline = {}, {}
for _, user in ipairs(users) do
  local before = total(members, user)
  local after = before - (old[user] or 0) + (new[user] or 0)
  if before == 0 and after > 0 then online[#online + 1] = user elseif before > 0 and after == 0 then offline[#offline + 1] = user end
end
redis.call('DEL', KEYS[2])
for i = 3, #ARGV, 200 do
  redis.call('HSET', KEYS[2], unpack(ARGV, i, math.min(i + 199, #ARGV)))
end
return {online, offline}
`);

/**
 * ARGV: user, 1 or 0 (present or not, as announced), channel, message. Publishes the message only if
 * the user's presence over the nodes is still that: an announcement that a later change has overtaken
 * is never published, wherever the later one's announcement stands. Answers 1 when published.
 */
const announceScript = script(`${totalLua}
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
if (total(members, ARGV[1]) > 0) ~= (ARGV[2] == '1') then return 0 end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`);

/** Users asked about per script call (HMGET's arguments stay well within Lua's stack). */
const onlineBatch = 1000;

export type PresenceOptions = {
  link: RedisLink;
  nodeId: string;
  timeoutSeconds: number;
  log: Logger;
  /** This node's sockets per user, as its registry has them now (users with none left out). */
  local(): Iterable<readonly [userId: number, sockets: number]>;
  /** Transitions found by a resync (after Redis came back, or this node was dropped and rejoined). */
  changed(changes: Changes): void;
};

export type Presence = ReturnType<typeof createPresence>;

export function createPresence(options: PresenceOptions) {
  const { link, nodeId, log } = options;
  const { deadlineMs } = heartbeatTiming(options.timeoutSeconds);
  const own = [keys.nodes, keys.sockets(nodeId)];
  /** Redis may not hold what this node has: a write failed, or the node was dropped and came back. */
  let dirty = false;
  let resyncing: Promise<void> | undefined;
  let again = false;

  async function set(userId: number, sockets: number, max: number): Promise<[string, number]> {
    try {
      const [change, total, rejoined] = (await link.run(setScript, own, [nodeId, userId, sockets, max, deadlineMs])) as [string, number, number];
      if (rejoined) void resync();
      return [change, total];
    } catch (error) {
      if (error instanceof RedisUnavailable) dirty = true;
      throw error;
    }
  }

  /**
   * Writes this node's whole state again and announces what that changed. One at a time; a call
   * while one runs makes it go round once more, with the registry as it is by then.
   */
  function resync(): Promise<void> {
    if (resyncing) {
      again = true;
      return resyncing;
    }
    resyncing = (async () => {
      do {
        again = false;
        dirty = false;
        const args: (string | number)[] = [nodeId, deadlineMs];
        for (const [userId, sockets] of options.local()) if (sockets > 0) args.push(userId, sockets);
        try {
          const [online, offline] = (await link.run(resyncScript, own, args)) as [string[], string[]];
          if (online.length > 0 || offline.length > 0) options.changed({ online: online.map(Number), offline: offline.map(Number) });
        } catch (error) {
          dirty = true;
          if (!(error instanceof RedisUnavailable)) log.error('presence resync failed', { error });
          return;
        }
      } while (again);
    })().finally(() => (resyncing = undefined));
    return resyncing;
  }

  link.onReconnect(() => void resync());

  return {
    /**
     * A socket of the user opened here: `sockets` is how many this node now has (call right after the
     * registry changed, so calls reach Redis in the order the counts changed). `max` (0: none) refuses
     * a socket past that many cluster-wide. Throws RedisUnavailable: then only this node's view is known.
     */
    async opened(userId: number, sockets: number, max = 0): Promise<Admission> {
      const [change, total] = await set(userId, sockets, max);
      if (change === 'refused') return { admitted: false, total };
      return { admitted: true, change: (change || null) as Change, total };
    },
    /** A socket of the user closed here, leaving `sockets` on this node. Throws RedisUnavailable. */
    async closed(userId: number, sockets: number): Promise<Counted> {
      const [change, total] = await set(userId, sockets, 0);
      return { change: (change || null) as Change, total };
    },
    /** Which of these users have a socket on some node. Throws RedisUnavailable. */
    async online(userIds: readonly number[]): Promise<Set<number>> {
      const found = new Set<number>();
      for (let start = 0; start < userIds.length; start += onlineBatch) {
        const batch = userIds.slice(start, start + onlineBatch);
        const totals = (await link.run(onlineScript, [keys.nodes], batch)) as number[];
        totals.forEach((total, i) => total > 0 && found.add(batch[i]!));
      }
      return found;
    },
    /**
     * How many users have a socket on some node. Reads every node's counts (for admin_stats, not for a
     * path every socket takes). Throws RedisUnavailable.
     */
    count: async (): Promise<number> => (await link.run(countScript, [keys.nodes], [])) as number,
    /**
     * Publishes `message` on `channel` if the user is still `present` (has a socket on some node) or
     * still not; false when a change since has overtaken it. Throws RedisUnavailable.
     */
    announce: async (userId: number, present: boolean, channel: string, message: string): Promise<boolean> =>
      (await link.run(announceScript, [keys.nodes], [userId, present ? 1 : 0, channel, message])) === 1,
    /** Whether a write failed since the last resync (the heartbeat resyncs then). */
    dirty: () => dirty,
    resync,
  };
}
