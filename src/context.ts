// What handlers receive: the application's parts, and for socket events the caller.
import type { Settings } from './config.ts';
import type { Logger } from './log.ts';
import type { Store } from './storage/index.ts';
import type { Registry } from './registry.ts';
import type { Tokens } from './auth/tokens.ts';
import type { Passwords } from './auth/passwords.ts';
import type { Connection } from './transport/connection.ts';
import type { Commit } from './storage/commit.ts';
import type { Receipts } from './features/receipts.ts';
import type { Typing } from './features/typing.ts';
import type { Mailer } from './mail.ts';

export type App = {
  readonly settings: Settings;
  readonly log: Logger;
  readonly store: Store;
  /** Group commit: handlers' writes share a transaction per event-loop turn; replies wait for it. */
  readonly commit: Commit;
  readonly registry: Registry;
  /** Delivered and read points, gathered and pushed as receipts. */
  readonly receipts: Receipts;
  /** Who is typing where; never stored. */
  readonly typing: Typing;
  /** Outgoing mail: SMTP, or .eml files in the outbox. */
  readonly mail: Mailer;
  readonly tokens: Tokens;
  readonly passwords: Passwords;
  /** The clock, in Unix epoch seconds. */
  now(): number;
};

export type Ctx = App & { readonly caller: Connection };
