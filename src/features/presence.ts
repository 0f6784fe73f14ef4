// Presence: a user is online from their first socket to their last, as their status lets others see;
// their contacts are told of every change.
import { pushText } from '../envelope.ts';
import { inJob, type App, type InJob } from '../context.ts';
import type { Job, Kind } from '../storage/engine/commit.ts';
import type { Store, UserRow } from '../storage/index.ts';
import type { Connection } from '../connection.ts';

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
export function changed(app: App, userId: number, online?: boolean): Promise<void> {
  return app.commit.together(presenceChanges, { app, userId, online });
}

/** Presence changes queued one after another (a wave of sockets opening or closing) run as one group: a few statements for all. */
const presenceChanges: Kind<{ app: App; userId: number; online?: boolean }, undefined, Store> = {
  name: 'presence',
  async run(items) {
    const { app } = items[0]!.input;
    const { store } = items[0]!.job;
    const rows = new Map((await store.users.byIds([...new Set(items.map(({ input }) => input.userId))])).map((row) => [row.id, row]));
    const shown = items.filter(({ input }) => rows.has(input.userId) && rows.get(input.userId)!.status !== 'invisible');
    await store.users.setLastOnlineMany([...new Set(shown.map(({ input }) => input.userId))], app.now());
    await announceAll(app, store, shown.map(({ input, job }) => ({ userId: input.userId, transition: input.online, retry: true, job })), rows);
    return items.map(() => ({ value: undefined }));
  },
};

/**
 * Tells the user's contacts, once the unit of work is committed, what they now see of them: online
 * (unless invisible), status and text. Not logged: it is only ever the present.
 */
export function announce(app: InJob, userId: number, transition?: boolean, retry = true): Promise<void> {
  return announceAll(app, app.store, [{ userId, transition, retry, job: app.job }]);
}

type Announcement = { userId: number; transition?: boolean; retry: boolean; job: Job<Store> };

/** `announce` for many users at once, each registered with its own unit's job: one statement each for their rows and contacts. */
async function announceAll(app: App, store: Store, announcements: readonly Announcement[], known?: ReadonlyMap<number, UserRow>): Promise<void> {
  if (announcements.length === 0) return;
  const ids = [...new Set(announcements.map(({ userId }) => userId))];
  const [rows, contacts] = await Promise.all([
    known ?? store.users.byIds(ids).then((list) => new Map(list.map((row) => [row.id, row]))),
    store.contacts.unblockedOf(ids),
  ]);
  // A transition says what it was (a socket that closed last: offline), even if another has opened
  // since its unit was queued: contacts then see offline and online, in that order, not online twice.
  const asked = announcements.filter(({ transition }) => transition === undefined).map(({ userId }) => userId);
  const online = asked.length ? await app.cluster.online(asked) : new Set<number>();
  const contactsOf = new Map<number, number[]>();
  for (const { user_id, contact_id } of contacts) {
    const list = contactsOf.get(user_id);
    if (list) list.push(contact_id);
    else contactsOf.set(user_id, [contact_id]);
  }
  for (const { userId, transition, retry, job } of announcements) {
    const row = rows.get(userId);
    if (!row) continue;
    const present = transition ?? online.has(userId);
    const shown = present && row.status !== 'invisible';
    const told = contactsOf.get(userId) ?? [];
    const text = pushText('user_status', { username: row.username, is_online: shown, status: shown ? row.status : 'offline', status_text: row.status_text });
    job.after((committed) => {
      if (committed) void tell(app, userId, present, transition === undefined && retry, told, text).catch((error: unknown) => app.log.error('presence not announced', { error }));
    });
  }
}

/**
 * In a cluster an announcement goes out only while the user's presence is still what it says, so a
 * change announced late (going offline on one node while coming online on another, the first node's
 * database slower) is dropped rather than left as the last word: the later change has its own
 * announcement. One that is not a change (a new status, a node dropped) goes once more (`retry`)
 * with the present; not again, should this node's view and Redis's differ for a while (Redis was
 * away): the heartbeat's resync announces what it finds then.
 */
async function tell(app: App, userId: number, present: boolean, retry: boolean, contacts: readonly number[], text: string): Promise<void> {
  const outcome = await app.cluster.announce(contacts, text, { user: userId, present });
  if (outcome === 'stale' && retry) await app.commit.run((job) => announce(inJob(app, job), userId, undefined, false));
}
