// The shape of an event's contract, and the field schemas several events share.
import * as v from 'valibot';
import type { ErrorName } from './errors.ts';

// Any object schema; the entries' own types stay precise where a spec is declared.
export type RequestSchema = v.ObjectSchema<v.ObjectEntries, v.ErrorMessage<v.ObjectIssue> | undefined>;

export type EventSpec = {
  /** One line for the protocol reference. */
  readonly summary: string;
  /** The event's fields (besides `type` and `ref`), checked in the order they are declared. */
  readonly request: RequestSchema;
  /** The `data` of a success reply. */
  readonly reply: v.GenericSchema;
  /**
   * Fields checked, and errors raised, before the rest of the request: the seed backend checks
   * membership of a conversation before it looks at the other fields.
   */
  readonly guard?: { readonly fields: readonly string[]; readonly errors: readonly ErrorName[] };
  /** Errors raised after validation, in the order they are checked. */
  readonly errors: readonly ErrorName[];
  /** Who else receives the success event, for the reference; absent: only the requester. */
  readonly fanout?: string;
  /**
   * How many events it counts as against the socket's rate limit (default 1): reads that cost the
   * server more spend more of the bucket.
   */
  readonly cost?: number;
};

export type PushSpec = {
  readonly summary: string;
  readonly data: v.GenericSchema;
  readonly to: string;
};

/** Declares an event, keeping its precise schema types for inference. */
export function event<const S extends EventSpec>(spec: S): S {
  return spec;
}

/** An integer field whose every failure has one message, as in the seed backend. */
export function integer(message: string) {
  return v.pipe(v.number(message), v.safeInteger(message));
}

/** Unix epoch seconds. */
/** What an event read after the commit (away from the queue of work) says of its reply, in the reference. */
export const readLater = 'It reads once the frame is committed, away from the queue every frame waits in: it sees everything you sent before it, and its reply may come after the replies to frames you sent after it (match them by `ref`), though replies read this way come in the order their frames came.';

export const seconds = v.pipe(v.number(), v.integer(), v.description('Unix epoch seconds'));

export const id = v.pipe(v.number(), v.integer(), v.minValue(1));

export const limits = {
  username: { min: 3, max: 32 },
  passwordMax: 1024,
  name: 100,
  members: 1000,
  ref: 64,
  messagesPage: 100,
  /** A thread summary names this many of the people who replied, the first to reply first. */
  threadParticipants: 5,
  threadsPage: { default: 20, max: 50 },
  clientId: 64,
  syncPage: { default: 100, max: 500 },
  /** The serialised events of one sync page, at most (a single event may be larger). */
  syncPageBytes: 256 * 1024,
  description: 1000,
  /** How much of a replied-to message a reply's preview shows. */
  preview: 100,
  /** The most days set_retention may set. */
  retentionDays: 36500,
  /** Hours an export may be downloaded once it is ready. */
  exportHours: 24,
  emoji: 32,
  /** Different emojis one person may put on one message. */
  reactionsPerUser: 20,
  searchQuery: 200,
  searchPage: { default: 20, max: 100 },
  /** Channels one list_channels request looks at, at most, whatever its query matches. */
  channelsExamined: 1000,
  /** Searches one account may have running at once on a node (their time is charged as they finish). */
  searchesAtOnce: 2,
  channelsPage: { default: 50, max: 100 },
  /** get_conversations lists at most `max` (the seed's event has no paging); list_conversations pages by `default`, up to `max`. */
  conversationsPage: { default: 100, max: 500 },
  invitationsPage: { default: 50, max: 100 },
  /** get_contacts answers at most this many a page, and without `limit` this many: the seed's event listed them all, however many. */
  contactsPage: 500,
  /** Contacts one account may have, either side's choice: add_contact writes both sides, so anyone could grow anyone's list. */
  contactsPerUser: 5000,
  blockedPage: { default: 100, max: 500 },
  /** People one account may block. */
  blocksPerUser: 10000,
  bannedPage: { default: 100, max: 500 },
  /** People banned from one conversation. */
  bansPerConversation: 10000,
  /** A `typing` that is not repeated within this many seconds ends by itself. */
  typingSeconds: 6,
  /** `typing` events one person may send for one conversation in `typingWindowSeconds`. */
  typingPerWindow: 10,
  typingWindowSeconds: 5,
  /** Receipts are gathered for this long and then pushed, one per member whose points moved. */
  receiptDelayMs: 500,
  /** In bigger conversations `delivered` points are kept (get_receipts) but not pushed; `read` ones still are… */
  receiptPushMembers: 100,
  /** …and their receipts are gathered for longer. */
  receiptDelayLargeMs: 5000,
  bio: 500,
  statusText: 100,
  email: 254,
  usersPage: { default: 20, max: 100 },
  /** People one search_users request looks at, at most about, whatever its query matches. */
  usersExamined: 1000,
  /** Seconds a message refused by the rate limit holds its conversation on its socket, from its last refusal. */
  sendHoldSeconds: 10,
  /** Unread messages are counted up to this many: a count this high means "this many or more". */
  unreadCap: 100,
  /** Devices (browsers, apps) one account may register for notifications. */
  devicesPerUser: 20,
  /** A native app's push token, at most (FCM's are about 160 characters, APNs' 64). */
  deviceToken: 4096,
  /** Notices one administrator may send in an hour (admin_notify). */
  noticesPerHour: 10,
  noticeTitle: 100,
  /** As long as a notification's preview of a message. */
  noticeBody: 200,
  /** Files one message may carry. */
  attachments: 10,
  filesPage: { default: 50, max: 100 },
  /** Bots one account may own. */
  botsPerOwner: 25,
  /** Incoming webhooks one conversation may have. */
  webhooksPerConversation: 10,
  /** Slash commands one conversation may have. */
  commandsPerConversation: 20,
  /** POSTs to a slash command's server at most for one run: the first, and tries again after failures that may pass (no answer in time or at all, 5xx). */
  commandAttempts: 3,
  /** Milliseconds before the second try of a slash command; twice that before the third. */
  commandRetryMs: 250,
  /** Server-wide slash commands (an administrator's). */
  serverCommands: 50,
  /** Thumbnails fit in a square of this many pixels. */
  thumbnailSide: 480,
} as const;

/** An optional page size from 1 to `max`, answering one message for every failure. */
export function pageLimit(max: number, fallback: number) {
  const message = `limit must be a whole number from 1 to ${max}`;
  return v.pipe(
    v.nullish(v.pipe(integer(message), v.minValue(1, message), v.maxValue(max, message))),
    v.description(`optional; at most this many (default ${fallback})`),
  );
}

/**
 * An optional keyset cursor: the `next` of the previous page. `same`, when given, says what the pages
 * must be asked with alike.
 */
export function pageAfter(same?: string) {
  return v.pipe(
    v.nullish(v.string('after must be a string: the next of the previous page')),
    v.description(`optional; the \`next\` of the previous page${same ? ` (asked with the same ${same})` : ''}; absent: the first page`),
  );
}

/** Where a page answered with `pageAfter` ends. */
export const pageNext = v.pipe(v.nullable(v.string()), v.description('the `after` of the next page, or null when this is the last one'));

/** An optional id cursor: only items with smaller (or, for `after`, larger) ids. */
export function cursor(name: string, what: string) {
  return v.pipe(v.nullish(integer(`expected ${name} as integer`)), v.description(`optional; ${what}`));
}

/**
 * An event's fields. A missing field answers with that field's own message, as a wrong type does
 * (the seed says `expected content as string` for both), instead of valibot's generic one.
 */
export function fields<const E extends v.ObjectEntries>(entries: E) {
  return v.object(entries, (issue) => {
    const key = issue.path?.[0]?.key;
    const entry: unknown = typeof key === 'string' ? entries[key] : undefined;
    const message = typeof entry === 'object' && entry !== null && 'message' in entry ? entry.message : undefined;
    return typeof message === 'string' ? message : issue.message;
  });
}

/** The field every conversation event names it by, checked before the rest (as the seed does). */
export const conversationId = integer('expected conversation_id as integer');
/** Membership is checked first: a non-member gets the answer for a conversation that does not exist. */
export const conversationGuard = { fields: ['conversation_id'], errors: ['not_in_conversation'] } as const;
