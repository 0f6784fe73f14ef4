// The Redis side of a cluster, put together for one node: the connection, this node's membership
// and heartbeats, cluster-wide presence, the ephemeral bus and the shared rate limits. Started only
// when REDIS_URL is set; a single node without it runs as before.
import { createHash } from 'node:crypto';
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import { createBus, type Bus } from './bus.ts';
import { createLimits, type Limits } from './limits.ts';
import { createNodes, generatedNodeId, type Nodes } from './nodes.ts';
import { createPresence, type Changes, type Presence } from './presence.ts';
import { connectRedis, type RedisLink } from './redis.ts';

export type ClusterHooks = {
  /** This node's open sockets per user, from its registry. */
  local(): Iterable<readonly [userId: number, sockets: number]>;
  /**
   * Users who came online or went offline cluster-wide other than by this node's own opened/closed
   * calls: a dead node dropped, or this node's counts written again after Redis came back.
   */
  presenceChanged(changes: Changes): void;
};

export type Cluster = {
  readonly nodeId: string;
  readonly link: RedisLink;
  readonly nodes: Nodes;
  readonly presence: Presence;
  readonly bus: Bus;
  readonly limits: Limits;
  /** Leaves the cluster (users only here go offline, reported to presenceChanged) and disconnects. */
  close(): Promise<void>;
};

/**
 * The prefix of the cluster's Redis keys and channel, from what names its database (`database`: the
 * same on every node, another for another cluster's): clusters may share one Redis without meeting.
 */
export const clusterNamespace = (database: string): string => `${createHash('sha256').update(database).digest('hex').slice(0, 16)}:`;

/**
 * Connects, joins and starts beating; rejects with a message naming the setting at fault. `namespace`:
 * the prefix of the cluster's keys (clusterNamespace).
 */
export async function startCluster(
  settings: Pick<Settings, 'NODE_ID' | 'NODE_TIMEOUT'> & { REDIS_URL: string },
  log: Logger,
  hooks: ClusterHooks,
  namespace: string,
): Promise<Cluster> {
  const nodeId = settings.NODE_ID ?? generatedNodeId();
  const link = await connectRedis(settings.REDIS_URL, log, `parley-${nodeId}`, namespace);
  try {
    const timeoutSeconds = settings.NODE_TIMEOUT;
    const nodes = createNodes({ link, id: nodeId, timeoutSeconds, log, gone: (users) => hooks.presenceChanged({ online: [], offline: users }) });
    await nodes.join();
    const presence = createPresence({ link, nodeId, timeoutSeconds, log, local: hooks.local, changed: hooks.presenceChanged });
    const bus = await createBus({ link, nodeId, log });
    const limits = createLimits({ link, log });
    nodes.start(async (state) => {
      if (state === 'joined' || presence.dirty()) await presence.resync();
    });
    return {
      nodeId,
      link,
      nodes,
      presence,
      bus,
      limits,
      async close() {
        await nodes.leave().catch((error: unknown) => log.warn('could not leave the cluster', { error }));
        await bus.close();
        await link.close();
      },
    };
  } catch (error) {
    await link.close();
    throw error;
  }
}
