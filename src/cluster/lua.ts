// The Redis keys the cluster parts share, and the Lua they share: Redis's own clock (one clock for
// every node, whatever their own say) and a user's sockets summed over the nodes of the cluster.
// Every key is written with the cluster's prefix before it (RedisLink's `namespace`, added by the
// client): clusters sharing one Redis never see each other's nodes, counts or limits.

export const keys = {
  /** Sorted set: node id → the time (ms, Redis's clock) after which it counts as dead unless it beats again. */
  nodes: 'parley:nodes',
  /** Hash: the node's incarnation (one per process) and what it says of itself. */
  node: (id: string) => `parley:node:${id}`,
  /** Hash: user id → sockets of theirs open on the node. */
  sockets: (id: string) => `parley:sockets:${id}`,
  /** Pub/sub channel of the ephemeral bus. */
  bus: 'parley:bus',
  /** A shared rate limit's state for one key (an address, an account, a user). */
  limit: (kind: string, name: string, key: string) => `parley:${kind}:${name}:${key}`,
} as const;

/** Lua: now_ms() from Redis's clock. */
export const nowLua = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Lua: cluster_key(name), the key `parley:<name>` of this cluster: beside KEYS[1], which every script
 * using it is given as `keys.nodes` (so with the cluster's prefix, which only the keys passed carry).
 */
export const clusterKeyLua = `
local function cluster_key(name)
  return string.sub(KEYS[1], 1, #KEYS[1] - #'nodes') .. name
end
`;

/** Lua: total(members, user), the user's sockets over the given nodes (KEYS[1]: `keys.nodes`). */
export const totalLua = `${clusterKeyLua}
local function total(members, user)
  local n = 0
  for _, member in ipairs(members) do
    n = n + (tonumber(redis.call('HGET', cluster_key('sockets:' .. member), user)) or 0)
  end
  return n
end
`;

/** Lua: rejoin(nodes_key, id, deadline_ms, now) puts a node back among the members; 1 when it was not there. */
export const rejoinLua = `
local function rejoin(nodes_key, id, deadline_ms, now)
  if redis.call('ZSCORE', nodes_key, id) then return 0 end
  redis.call('ZADD', nodes_key, now + deadline_ms, id)
  return 1
end
`;
