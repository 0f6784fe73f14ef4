// The storage layer: every prepared statement, grouped by what it stores, on whichever engine.
import type { Driver } from './sql.ts';
import { usersStore } from './users.ts';
import { sessionsStore } from './sessions.ts';
import { contactsStore } from './contacts.ts';
import { conversationsStore } from './conversations.ts';
import { messagesStore } from './messages.ts';
import { membersStore } from './members.ts';
import { eventsStore } from './events.ts';
import { searchStore } from './search.ts';
import { codesStore } from './codes.ts';
import { statsStore } from './stats.ts';
import { probeStore } from './probe.ts';
import { devicesStore } from './devices.ts';
import { outboxStore } from './outbox.ts';
import { mentionsStore } from './mentions.ts';
import { notificationsStore } from './notifications.ts';
import { limits } from '../../protocol/index.ts';
import { filesStore } from './files.ts';
import { roundsStore } from './rounds.ts';

export type Store = ReturnType<typeof createStore>;

export function createStore(driver: Driver) {
  const messages = messagesStore(driver);
  return {
    /** For the group commit (transactions) and for telling an unreachable database from a failing statement. */
    driver,
    users: usersStore(driver),
    sessions: sessionsStore(driver),
    contacts: contactsStore(driver),
    conversations: conversationsStore(driver),
    members: membersStore(driver),
    messages,
    events: eventsStore(driver),
    search: searchStore(driver),
    codes: codesStore(driver),
    stats: statsStore(driver),
    probe: probeStore(driver),
    devices: devicesStore(driver),
    outbox: outboxStore(driver, messages.unread, limits.unreadCap),
    mentions: mentionsStore(driver),
    notifications: notificationsStore(driver),
    files: filesStore(driver),
    rounds: roundsStore(driver),
  };
}

export { openDatabase } from './db.ts';
export { sqliteDriver } from './sqlite.ts';
export type { UserRow } from './users.ts';
