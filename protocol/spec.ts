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
export const seconds = v.pipe(v.number(), v.integer(), v.description('Unix epoch seconds'));

export const id = v.pipe(v.number(), v.integer(), v.minValue(1));

export const limits = {
  username: { min: 3, max: 32 },
  passwordMax: 1024,
  name: 100,
  members: 1000,
  ref: 64,
  messagesPage: 100,
  clientId: 64,
  syncPage: { default: 100, max: 500 },
} as const;

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
