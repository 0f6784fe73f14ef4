// Putting the application together: the parts every handler receives (context.ts), made the same way for
// the server and for handler tests.
import { unitStore } from './storage/index.ts';
import { createRegistry, type Registry } from './registry.ts';
import { createPasswordGuard, type PasswordGuard } from './auth/attempts.ts';
import { createCommit } from './storage/engine/commit.ts';
import { createReceipts } from './receipts.ts';
import { createTyping } from './typing.ts';
import { createQuotas } from './quotas.ts';
import { immediateOrdering, type Ordering } from './ordering.ts';
import { aloneSeam, type ClusterSeam } from './cluster/seam.ts';
import { inProcessReads, type Reads } from './reads/table.ts';
import type { App } from './context.ts';
import { createCommandCaller, type CommandCaller } from './hooks/call.ts';

/**
 * Builds an App around its edges (the database, where topic publishes go and how many sockets a
 * topic has, the clock, auth, mail, the log and metrics):
 * the group commit, the socket registry, receipts and typing are made the same way for the server
 * and for handler tests.
 */
export function assembleApp(
  edges: Omit<App, 'commit' | 'registry' | 'receipts' | 'typing' | 'quotas' | 'guard' | 'ordering' | 'cluster' | 'reads' | 'commands'> & {
    commands?: CommandCaller;
    reads?: Reads;
    publish(topic: string, text: string): void;
    subscribers(topic: string): number;
    ordering?: Ordering;
    cluster?: (registry: Registry) => ClusterSeam;
    guard?: PasswordGuard;
  },
): App {
  const { publish, subscribers, ordering = immediateOrdering, cluster: seamFor = aloneSeam, guard = createPasswordGuard(edges.settings), reads = inProcessReads(edges.store), commands = createCommandCaller(edges.settings), ...rest } = edges;
  const { store, log, now, metrics } = rest;
  const units = unitStore(store.driver);
  const commit = createCommit(store.driver, log, metrics, { store: units, append: (events) => units.events.append(events, ordering.announcing()), numbering: ordering.numbering, numbered: ordering.logged, undone: ordering.undone });
  const registry = createRegistry(publish, subscribers, metrics);
  metrics.watch({ sockets: registry.socketTotal, online: registry.onlineCount });
  const cluster = seamFor(registry);
  return {
    ...rest, reads, commit, registry, ordering, cluster, guard, commands,
    receipts: createReceipts({ store, commit, registry, cluster, log, now, ordering }), typing: createTyping({ store, registry, log, cluster }),
    quotas: createQuotas({ settings: rest.settings, cluster }),
  };
}
