// The storage layer: every prepared statement, grouped by what it stores, on whichever engine.
import type { Driver, Sql } from './engine/sql.ts';
import { usersStore } from './stores/users.ts';
import { sessionsStore } from './stores/sessions.ts';
import { contactsStore } from './stores/contacts.ts';
import { invitationsStore } from './stores/invitations.ts';
import { conversationsStore } from './stores/conversations.ts';
import { channelsStore } from './stores/channels.ts';
import { messagesStore } from './stores/messages.ts';
import { membersStore } from './stores/members.ts';
import { eventsStore } from './stores/events.ts';
import { searchStore } from './stores/search.ts';
import { codesStore } from './stores/codes.ts';
import { twoFactorStore } from './stores/two-factor.ts';
import { statsStore } from './stores/stats.ts';
import { probeStore } from './stores/probe.ts';
import { devicesStore } from './stores/devices.ts';
import { outboxStore } from './stores/outbox.ts';
import { mentionsStore } from './stores/mentions.ts';
import { notificationsStore } from './stores/notifications.ts';
import { limits } from '../../protocol/index.ts';
import { filesStore } from './stores/files.ts';
import { roundsStore } from './stores/rounds.ts';
import { oidcStore } from './stores/oidc.ts';
import { threadsStore } from './stores/threads.ts';
import { botsStore } from './stores/bots.ts';
import { webhooksStore } from './stores/webhooks.ts';
import { commandsStore } from './stores/commands.ts';
import { retentionStore } from './stores/retention.ts';
import { exportsStore } from './stores/exports.ts';

export type Store = ReturnType<typeof createStore>;

/**
 * Every store over `sql`: the driver's own statements (outside any batch, on committed data) by
 * default, or `driver.batch` for the store units of work run on (`unitStore`).
 */
export function createStore(driver: Driver, sql: Sql = driver) {
  const messages = messagesStore(sql);
  return {
    /** For the group commit (transactions) and for telling an unreachable database from a failing statement. */
    driver,
    users: usersStore(sql),
    sessions: sessionsStore(sql),
    contacts: contactsStore(sql),
    invitations: invitationsStore(sql),
    conversations: conversationsStore(sql),
    channels: channelsStore(sql),
    members: membersStore(sql),
    messages,
    events: eventsStore(sql),
    search: searchStore(sql),
    codes: codesStore(sql),
    twoFactor: twoFactorStore(sql),
    stats: statsStore(sql),
    probe: probeStore(sql),
    devices: devicesStore(sql),
    outbox: outboxStore(sql, messages.unread, limits.unreadCap),
    mentions: mentionsStore(sql),
    notifications: notificationsStore(sql),
    files: filesStore(sql),
    rounds: roundsStore(sql),
    oidc: oidcStore(sql),
    threads: threadsStore(sql),
    bots: botsStore(sql),
    webhooks: webhooksStore(sql),
    commands: commandsStore(sql),
    retention: retentionStore(sql),
    exports: exportsStore(sql),
  };
}

/** The store the units of work of a batch run on: its statements go to the batch's transaction. */
export const unitStore = (driver: Driver): Store => createStore(driver, driver.batch);

export { openDatabase } from './sqlite/db.ts';
export { sqliteDriver } from './engine/sqlite.ts';
export type { UserRow } from './stores/users.ts';
