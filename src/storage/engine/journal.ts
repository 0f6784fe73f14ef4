// Events a batch logs, kept in memory until its end: then numbered and appended to the event log in one
// statement, just before the COMMIT (see stores/events.ts for why, and for the order this keeps).

/** An event a unit of work logged: numbered at its batch's end (`logged.seq` is set then, before the COMMIT). */
export type PendingEvent = {
  /** The conversation whose members (at this seq) see it; null for an event addressed to `users`. */
  readonly conversationId: number | null;
  readonly users: readonly number[];
  readonly type: string;
  readonly dataText: string;
  readonly createdAt: number;
  readonly messageId: number | null;
  readonly actorId: number | null;
  /** Members whose period in the conversation begins with this event, and those whose period ends with it. */
  readonly joined: readonly number[];
  readonly left: readonly number[];
  /** The batch's own name for the event, which member periods carry (as `placeholder(key)`) until it is numbered: set when logged. */
  key: number;
  readonly logged: { seq: number };
};

/**
 * The seq a member period holds for an event of its batch not yet numbered: far above every real seq,
 * so that within the batch a member who joined sees none of the conversation's logged events yet and
 * one who left still sees all of them (the batch's own are not in the log yet); replaced at numbering.
 */
export const placeholderBase = 2 ** 52;
export const placeholder = (key: number): number => placeholderBase + key;

/** Appends a batch's events in order, numbering them; resolves with the seq of each. */
export type Append = (events: readonly PendingEvent[]) => Promise<number[]>;
