// This server as a node of a cluster (REDIS_URL set): joins through Redis and follows the event log on
// PostgreSQL to deliver other nodes' events to its own sockets. server.ts calls it; alone, it is never called.
import type { Settings } from '../config.ts';
import type { Logger } from '../log.ts';
import type { App } from '../context.ts';
import type { Sequencer } from '../ordering.ts';
import { deliverFollowed } from '../fanout.ts';
import { startCluster, type Cluster } from './index.ts';
import { startFollower } from './follower.ts';

export type ClusterNode = { readonly cluster: Cluster; close(): Promise<void> };

export async function joinCluster(settings: Settings & { REDIS_URL: string; DATABASE_URL: string }, log: Logger, app: App, sequencer: Sequencer, ca?: string): Promise<ClusterNode> {
  const cluster = await startCluster(settings, log, {
    local: () => app.registry.counts(),
    presenceChanged: (changes) => log.debug('presence changed elsewhere', changes),
  });
  try {
    const follower = await startFollower({
      url: settings.DATABASE_URL,
      ca,
      nodeId: cluster.nodeId,
      log,
      sequencer,
      commit: app.commit,
      deliver: (event) => deliverFollowed(app, event),
    });
    log.info('joined the cluster', { node: cluster.nodeId });
    return {
      cluster,
      async close() {
        await follower.close();
        await cluster.close();
      },
    };
  } catch (error) {
    await cluster.close();
    throw error;
  }
}
