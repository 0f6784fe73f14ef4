// Presence: a user is online from their first socket to their last, as their status lets others see;
// their contacts are told of every change.
import { pushText } from '../envelope.ts';
import type { App } from '../context.ts';
import type { Connection } from '../transport/connection.ts';

export function connected(app: App, connection: Connection): void {
  const conversations = app.store.conversations.idsForUser(connection.user.id);
  if (app.registry.add(connection, conversations)) changed(app, connection.user);
}

export function disconnected(app: App, connection: Connection): void {
  if (!app.registry.remove(connection)) return;
  app.typing.gone(connection.user.id);
  changed(app, connection.user);
}

/** Coming online or going offline: seen by contacts, and remembered as `last_online` — unless invisible, when nothing of it shows. */
function changed(app: App, user: Connection['user']): void {
  if (app.store.users.byId(user.id)?.status === 'invisible') return;
  app.commit.run(() => app.store.users.setLastOnline(user.id, app.now()));
  app.commit.after((committed) => committed && announce(app, user));
}

/** Tells the user's contacts what they now see of them: online (unless invisible), status and text. */
export function announce(app: App, user: Connection['user']): void {
  const row = app.store.users.byId(user.id);
  if (!row) return;
  const online = app.registry.isOnline(user.id) && row.status !== 'invisible';
  const blocked = new Set(app.store.contacts.blockedIds(user.id));
  const contacts = app.store.contacts.ids(user.id).filter((id) => !blocked.has(id));
  const text = pushText('user_status', { username: row.username, is_online: online, status: online ? row.status : 'offline', status_text: row.status_text });
  app.registry.push(contacts, text);
}
