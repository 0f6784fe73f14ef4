// The storage layer: every prepared statement, grouped by what it stores, on whichever engine.
import type { Driver } from './engine/sql.ts';
import { usersStore } from './stores/users.ts';
import { sessionsStore } from './stores/sessions.ts';
import { contactsStore } from './stores/contacts.ts';
import { conversationsStore } from './stores/conversations.ts';
import { messagesStore } from './stores/messages.ts';
import { membersStore } from './stores/members.ts';
import { eventsStore } from './stores/events.ts';
import { searchStore } from './stores/search.ts';
import { codesStore } from './stores/codes.ts';
import { statsStore } from './stores/stats.ts';
import { probeStore } from './stores/probe.ts';
import { devicesStore } from './stores/devices.ts';
import { outboxStore } from './stores/outbox.ts';
import { mentionsStore } from './stores/mentions.ts';
import { notificationsStore } from './stores/notifications.ts';
import { limits } from '../../protocol/index.ts';
import { filesStore } from './stores/files.ts';
import { roundsStore } from './stores/rounds.ts';

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

export { openDatabase } from './sqlite/db.ts';
export { sqliteDriver } from './engine/sqlite.ts';
export type { UserRow } from './stores/users.ts';
