// Presence: a user is online from their first socket to their last, as their status lets others see;
// their contacts are told of every change.
import { pushText } from '../envelope.ts';
import { inJob, type App, type InJob } from '../context.ts';
import type { Connection } from '../transport/connection.ts';

/**
 * Registers a socket; false when it takes its user past MAX_SOCKETS_PER_USER counted over every node
 * (the caller closes it, and its closing is an ordinary disconnect).
 */
export async function connected(app: App, connection: Connection): Promise<boolean> {
  const conversations = await app.store.conversations.idsForUser(connection.user.id);
  if (connection.closed) return true;
  const first = app.registry.add(connection, conversations);
  const { admitted, online } = await app.cluster.opened(connection.user.id, first, app.settings.MAX_SOCKETS_PER_USER);
  if (online) await changed(app, connection.user.id, true);
  return admitted;
}

export async function disconnected(app: App, connection: Connection): Promise<void> {
  const last = app.registry.remove(connection);
  if (last) app.typing.gone(connection.user.id);
  if (await app.cluster.closed(connection.user.id, last)) await changed(app, connection.user.id, false);
}

/** Coming online or going offline (anywhere in a cluster): seen by contacts, and remembered as `last_online` — unless invisible, when nothing of it shows. */
export async function changed(app: App, userId: number, online?: boolean): Promise<void> {
  await app.commit.run(async (job) => {
    if ((await app.store.users.byId(userId))?.status === 'invisible') return;
    await app.store.users.setLastOnline(userId, app.now());
    await announce(inJob(app, job), userId, online);
  });
}

/**
 * Tells the user's contacts, once the unit of work is committed, what they now see of them: online
 * (unless invisible), status and text. Not logged: it is only ever the present.
 */
export async function announce(app: InJob, userId: number, transition?: boolean, retry = true): Promise<void> {
  const row = await app.store.users.byId(userId);
  if (!row) return;
  // A transition says what it was (a socket that closed last: offline), even if another has opened
  // since its unit was queued: contacts then see offline and online, in that order, not online twice.
  const present = transition ?? (await app.cluster.online([userId])).has(userId);
  const online = present && row.status !== 'invisible';
  const blocked = new Set(await app.store.contacts.blockedIds(userId));
  const contacts = (await app.store.contacts.ids(userId)).filter((id) => !blocked.has(id));
  const text = pushText('user_status', { username: row.username, is_online: online, status: online ? row.status : 'offline', status_text: row.status_text });
  app.job.after((committed) => {
    if (committed) void told(app, userId, present, transition === undefined && retry, contacts, text).catch((error: unknown) => app.log.error('presence not announced', { error }));
  });
}

/**
 * In a cluster an announcement goes out only while the user's presence is still what it says, so a
 * change announced late (going offline on one node while coming online on another, the first node's
 * database slower) is dropped rather than left as the last word: the later change has its own
 * announcement. One that is not a change (a new status, a node dropped) goes once more (`retry`)
 * with the present; not again, should this node's view and Redis's differ for a while (Redis was
 * away): the heartbeat's resync announces what it finds then.
 */
async function told(app: App, userId: number, present: boolean, retry: boolean, contacts: readonly number[], text: string): Promise<void> {
  const outcome = await app.cluster.announce(contacts, text, { user: userId, present });
  if (outcome === 'stale' && retry) await app.commit.run((job) => announce(inJob(app, job), userId, undefined, false));
}
