// What handlers receive: the application's parts, and for socket events the caller (app.ts puts them together).
import type { Settings } from './config.ts';
import type { Logger } from './log.ts';
import type { Store } from './storage/index.ts';
import type { Registry } from './registry.ts';
import type { Tokens } from './auth/tokens.ts';
import type { Passwords } from './auth/passwords.ts';
import type { PasswordGuard } from './auth/attempts.ts';
import type { SecondFactorKeys } from './auth/second-factor.ts';
import type { Connection } from './connection.ts';
import type { Commit, Job } from './storage/engine/commit.ts';
import type { Receipts } from './receipts.ts';
import type { Typing } from './typing.ts';
import type { Quotas } from './quotas.ts';
import type { Mailer } from './mail.ts';
import type { Metrics } from './metrics.ts';
import type { Ordering } from './ordering.ts';
import type { ClusterSeam } from './cluster/seam.ts';
import type { Membership } from './storage/stores/conversations.ts';
import type { Reads } from './reads/table.ts';
import type { CommandCaller } from './hooks/call.ts';
import type { ExportJob } from './storage/stores/exports.ts';

export type App = {
  readonly settings: Settings;
  readonly log: Logger;
  /** Prometheus metrics, counted where things happen (served on /metrics when METRICS_TOKEN is set). */
  readonly metrics: Metrics;
  /**
   * Statements outside any unit of work: committed data only (on SQLite a read-only connection, on
   * PostgreSQL the pool's other connections). Inside a unit, `job.store` (and a handler's `ctx.store`)
   * runs on the batch's transaction instead.
   */
  readonly store: Store;
  /** Expensive reads, run once the unit that asks is committed, away from the queue of work (on SQLite on reader threads). */
  readonly reads: Reads;
  /** Group commit: units of work (frames, HTTP writes, background jobs) share a transaction per batch; replies wait for it. */
  readonly commit: Commit<Store>;
  readonly registry: Registry;
  /** Delivered and read points, gathered and pushed as receipts. */
  readonly receipts: Receipts;
  /** Logged events reach this node's sockets in seq order (in a cluster, interleaved with other nodes'). */
  readonly ordering: Ordering;
  /** Presence, pushes and closes across the nodes of a cluster (a node alone: itself). */
  readonly cluster: ClusterSeam;
  /** Who is typing where; never stored. */
  readonly typing: Typing;
  /** Conversations, channels and adds per account an hour. */
  readonly quotas: Quotas;
  /** Outgoing mail: SMTP, or .eml files in the outbox. */
  readonly mail: Mailer;
  /** Notifications: the VAPID public key browsers subscribe with, and waking the push worker after a commit that queued some. */
  readonly push: { readonly publicKey: string; wake(): void };
  /** Slash commands' servers, called outside any unit of work. */
  readonly commands: CommandCaller;
  /** Exports: building one in the background, after the commit that recorded it. */
  readonly exports: { build(job: ExportJob): void };
  readonly tokens: Tokens;
  readonly passwords: Passwords;
  /** Counts password guesses (logins and the socket events that ask for the password). */
  readonly guard: PasswordGuard;
  /** Seals TOTP secrets and hashes recovery codes with keys derived from the JWT secret. */
  readonly secondFactor: SecondFactorKeys;
  /** The clock, in Unix epoch seconds. */
  now(): number;
};

/** The app inside a unit of work: its store is the unit's, and what it registers with `job.after` runs once its batch is committed. */
export type InJob = App & { readonly job: Job<Store> };

/** A socket's own context: the app and the caller. */
export type SocketCtx = App & { readonly caller: Connection };

/**
 * What a handler receives: the socket's context, inside the unit of work its frame runs as; and when
 * its event has the membership guard, the caller's membership the guard found.
 */
export type Ctx = SocketCtx & { readonly job: Job<Store>; membership?: Membership };

/**
 * `base` (an App or a socket's context) inside a unit of work, its store the unit's. A copy, not
 * `Object.create(base)`: with every socket's context as a prototype, each unit would have a shape of
 * its own and every property read in a handler would go megamorphic. Spread alone, then stores: V8
 * (Node 20) copies a plain spread with the source's shape in tens of nanoseconds, but a property
 * written in the same literal after the spread costs ~1.5 us each and gives every copy a shape of its
 * own. A socket's context already has `job` and `membership` (see `socketContext`), so for a socket's
 * units these are stores to properties the copy has.
 */
export function inJob<T extends { readonly store: Store }>(base: T, job: Job<Store>): T & { readonly job: Job<Store>; membership?: Membership } {
  const ctx = { ...base } as T & { job: Job<Store>; store: Store; membership?: Membership };
  ctx.job = job;
  ctx.store = job.store;
  ctx.membership = undefined;
  return ctx;
}

/** A socket's context: the app and the caller, with the fields a unit's copy sets (see `inJob`). */
export function socketContext(app: App, caller: Connection): SocketCtx {
  const ctx: SocketCtx & { job: undefined; membership: undefined } = { ...app, caller, job: undefined, membership: undefined };
  return ctx;
}
