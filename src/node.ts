// This server as a node of a cluster (REDIS_URL set): joins through Redis (presence, the bus), and
// follows the event log on PostgreSQL to deliver other nodes' events to its own sockets, in seq order
// with its own. server.ts calls it; a node alone never does.
import type { Settings } from './config.ts';
import type { Logger } from './log.ts';
import type { App } from './context.ts';
import type { Registry } from './registry.ts';
import { createSequencer, type Sequencer } from './ordering.ts';
import { deliverFollowed } from './delivery/fanout.ts';
import { changed } from './features/presence.ts';
import { clusterNamespace, startCluster, type Cluster } from './cluster/index.ts';
import { startFollower } from './cluster/follower.ts';
import { RedisUnavailable } from './cluster/redis.ts';
import { local, type ClusterSeam } from './cluster/seam.ts';
import { sharedGuardCounts } from './cluster/guard.ts';
import { createPasswordGuard, type PasswordGuard } from './auth/attempts.ts';
import { closeEndedSessions } from './auth/sessions.ts';

export type ClusterNode = {
  readonly cluster: Cluster;
  readonly sequencer: Sequencer;
  /** The password guard with its counts in Redis. */
  readonly guard: PasswordGuard;
  /** The app's view of the cluster, around its registry. */
  seam(registry: Registry): ClusterSeam;
  /** Once the app is assembled, before listening: hears the bus and follows the event log. */
  follow(app: App, ca?: string): Promise<void>;
  close(): Promise<void>;
};

/**
 * Redis down: presence falls back to this node's own view (the link logs the outage once; the
 * heartbeat writes this node's counts again once Redis is back).
 */
async function orLocal<T>(ask: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await ask();
  } catch (error) {
    if (error instanceof RedisUnavailable) return fallback;
    throw error;
  }
}

/** How often a node looks for its sockets whose sessions ended on another node without its hearing of it. */
export const sessionAuditMs = 30_000;

/** `database`: what names the cluster's database (store.probe.identity()): its Redis keys are the cluster's own. */
export async function joinCluster(settings: Settings & { REDIS_URL: string; DATABASE_URL: string }, log: Logger, app: () => App | undefined, database: string): Promise<ClusterNode> {
  const announcePresent = (assembled: App, userIds: Iterable<number>) => {
    for (const userId of userIds) changed(assembled, userId).catch((error: unknown) => log.error('presence not announced', { error }));
  };
  /**
   * Changes heard before the app is assembled: joining drops nodes found dead, this node's previous
   * run among them after a crash, and the users only there went offline then. Announced once it is.
   */
  const early = new Set<number>();
  const cluster = await startCluster(settings, log, {
    local: () => app()?.registry.counts() ?? [],
    // A node dropped (its users only there went offline), or this node's counts written again.
    presenceChanged(changes) {
      const assembled = app();
      const userIds = [...changes.online, ...changes.offline];
      if (assembled) announcePresent(assembled, userIds);
      else for (const userId of userIds) early.add(userId);
    },
  }, clusterNamespace(database));
  const sequencer = createSequencer(log);
  let follower: Awaited<ReturnType<typeof startFollower>> | undefined;
  let auditTimer: NodeJS.Timeout | undefined;
  const tell = (message: Parameters<Cluster['bus']['publish']>[0]) =>
    void cluster.bus.publish(message).catch((error: unknown) => log.warn('bus message not sent', { error: String(error) }));

  return {
    cluster,
    sequencer,
    guard: createPasswordGuard(settings, sharedGuardCounts(cluster.limits, settings.LOGIN_MAX_FAILURES, log)),
    seam: (registry) => ({
      opened: (userId, first, max) => orLocal(async () => {
        const admission = await cluster.presence.opened(userId, registry.socketCount(userId), max);
        return { admitted: admission.admitted, online: admission.admitted && admission.change === 'online' };
      }, local.opened(registry, userId, first, max)),
      closed: (userId, last) => orLocal(async () => (await cluster.presence.closed(userId, registry.socketCount(userId))).change === 'offline', last),
      // Those with a socket here are online without asking; Redis is asked about the rest, all at once.
      async online(userIds) {
        const here = local.online(registry, userIds);
        const elsewhere = userIds.filter((id) => !here.has(id));
        if (elsewhere.length === 0) return here;
        return orLocal(async () => {
          for (const id of await cluster.presence.online(elsewhere)) here.add(id);
          return here;
        }, here);
      },
      onlineCount: () => orLocal(() => cluster.presence.count(), registry.onlineCount()),
      push: (event, users, text) => users.length > 0 && tell({ kind: 'push', event, users: [...users], text }),
      async announce(users, text, about) {
        if (users.length === 0) return 'told';
        const message = cluster.bus.envelope({ kind: 'push', event: 'user_status', users: [...users], text }, { all: true });
        try {
          if (!(await cluster.presence.announce(about.user, about.present, cluster.bus.channel, message))) return 'stale';
        } catch (error) {
          if (!(error instanceof RedisUnavailable)) log.warn('bus message not sent', { error: String(error) });
          registry.push(users, text);
          return 'here';
        }
        // Not heard here (only this node's subscription is not back yet): this node's sockets at once.
        if (!cluster.bus.listening()) registry.push(users, text);
        return 'told';
      },
      close: (target, code, reason) => tell({ kind: 'close', target, code, reason }),
      window: (name, limit, windowMs) => cluster.limits.window(name, limit, windowMs),
      hold: (name) => cluster.limits.hold(name),
    }),
    async follow(assembled, ca) {
      const counted = assembled.metrics.cluster({
        redisUp: cluster.link.up,
        nodes: () => orLocal(async () => (await cluster.nodes.live()).length, undefined),
        waiting: sequencer.waiting,
      });
      cluster.bus.on((message) => {
        if (message.kind === 'push') return assembled.registry.push(message.users, message.text);
        const { target, code, reason } = message;
        if ('sessions' in target) for (const id of target.sessions) assembled.registry.closeSession(id, code, reason);
        else assembled.registry.closeWhere((connection) => connection.user.id === target.user, code, reason);
      });
      // Closes sent while this node could not hear them: looked up in the database when the bus is
      // back, and every `sessionAuditMs` for any lost some other way.
      // One at a time, however slow the database; asked for meanwhile, it goes once more after.
      let auditing = false;
      let again = false;
      const audit = (): void => {
        if (auditing) return void (again = true);
        auditing = true;
        again = false;
        closeEndedSessions(assembled)
          .catch((error: unknown) => log.warn('could not look for sessions ended elsewhere', { error: String(error) }))
          .finally(() => {
            auditing = false;
            if (again) audit();
          });
      };
      cluster.bus.onRestored(audit);
      auditTimer = setInterval(audit, sessionAuditMs);
      auditTimer.unref();
      follower = await startFollower({
        url: settings.DATABASE_URL,
        ca,
        nodeId: cluster.nodeId,
        log,
        sequencer,
        commit: assembled.commit,
        deliver(event) {
          counted.followed();
          deliverFollowed(assembled, event);
        },
      });
      log.info('joined the cluster', { nodes: (await cluster.nodes.live()).map((node) => node.id) });
      // Each says what is true now (online or not anywhere), so announcing it late cannot undo a later change.
      announcePresent(assembled, early);
      early.clear();
    },
    async close() {
      clearInterval(auditTimer);
      await follower?.close();
      await cluster.close();
    },
  };
}
