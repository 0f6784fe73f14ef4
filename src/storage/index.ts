// The storage layer: every prepared statement, grouped by what it stores.
import type { Db } from './db.ts';
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

export type Store = ReturnType<typeof createStore>;

export function createStore(db: Db) {
  return {
    db,
    users: usersStore(db),
    sessions: sessionsStore(db),
    contacts: contactsStore(db),
    conversations: conversationsStore(db),
    members: membersStore(db),
    messages: messagesStore(db),
    events: eventsStore(db),
    search: searchStore(db),
    codes: codesStore(db),
    stats: statsStore(db),
    probe: probeStore(db),
  };
}

export { openDatabase } from './db.ts';
export type { UserRow } from './users.ts';
