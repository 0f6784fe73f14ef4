// Presence: a user is online from their first socket to their last; their online contacts are told.
import { pushText } from '../envelope.ts';
import type { App } from '../context.ts';
import type { Connection } from '../transport/connection.ts';

export function connected(app: App, connection: Connection): void {
  const conversations = app.store.conversations.idsForUser(connection.user.id);
  if (app.registry.add(connection, conversations)) announce(app, connection.user, true);
}

export function disconnected(app: App, connection: Connection): void {
  if (!app.registry.remove(connection)) return;
  app.typing.gone(connection.user.id);
  announce(app, connection.user, false);
}

function announce(app: App, user: Connection['user'], isOnline: boolean): void {
  const contacts = app.commit.run(() => {
    app.store.users.setLastOnline(user.id, app.now());
    return app.store.contacts.ids(user.id);
  });
  const text = pushText('user_status', { username: user.username, is_online: isOnline });
  app.commit.after((committed) => committed && app.registry.push(contacts, text));
}
