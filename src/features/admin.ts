// Administration: the events only accounts with the `admin` role may use.
import { avatarUrl } from '../delivery/views.ts';
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { endSessions } from '../auth/sessions.ts';
import { unlinkAccount } from '../auth/oidc-accounts.ts';
import type { Ctx } from '../context.ts';
import type { UserRow } from '../storage/index.ts';
import type { Handlers } from './handler.ts';

/** The role is read from the database each time: a revoked admin loses the events at once. */
export async function asAdmin(ctx: Ctx, type: string): Promise<void> {
  if ((await ctx.store.users.byId(ctx.caller.user.id))?.role !== 'admin') throw fail('admins_only_event', { type });
}

/** Another account, named by username: an admin does not suspend or demote themself. */
async function target(ctx: Ctx, username: string, action: string): Promise<UserRow> {
  const row = await ctx.store.users.byUsername(username);
  if (!row) throw fail('no_such_user', { username });
  if (row.id === ctx.caller.user.id) throw fail('not_yourself', { action, hint: '' });
  return row;
}

export const adminHandlers = {
  admin_list_users: {
    schema: events.admin_list_users.request,
    async run(ctx, { query, status, after, limit }) {
      await asAdmin(ctx, 'admin_list_users');
      const size = limit ?? limits.usersPage.default;
      // Bounded like search_users: a filter that few accounts match pages on from where the walk stopped.
      const { rows, walkedTo } = await ctx.store.users.list(query ?? '', status ?? null, after ?? '', size + 1, limits.usersExamined);
      const page = rows.slice(0, size);
      // An administrator sees who is connected, invisible or not.
      const online = await ctx.cluster.online(page.map((row) => row.id));
      return {
        users: page.map((row) => ({
          username: row.username,
          fullname: row.fullname,
          email: row.email,
          email_verified: row.email_verified === 1,
          role: row.role,
          kind: row.kind,
          status: row.account_status,
          is_online: online.has(row.id),
          created_at: row.created_at,
          last_online: row.last_online,
          avatar_url: avatarUrl(row.avatar_file_id),
        })),
        next: rows.length > size ? page.at(-1)!.username : (walkedTo ?? null),
      };
    },
  },
  admin_set_user_status: {
    schema: events.admin_set_user_status.request,
    async run(ctx, { username, status }) {
      await asAdmin(ctx, 'admin_set_user_status');
      const row = await target(ctx, username, 'suspend');
      await ctx.store.users.setAccountStatus(row.id, status);
      // Suspended: every session ends and every socket closes; the account cannot log in again until reactivated.
      // Their bots' sessions end too (their owner gives them new tokens once active again): a suspension is not dodged through one's bots.
      if (status === 'suspended') await endSessions(ctx, [...(await ctx.store.sessions.liveIds(row.id, ctx.now())), ...(await ctx.store.bots.sessionsOf(row.id))], 'suspended');
      ctx.log.info('account status set', { user: row.username, status, by: ctx.caller.user.username });
      return { username: row.username, status };
    },
  },
  admin_set_role: {
    schema: events.admin_set_role.request,
    async run(ctx, { username, role }) {
      await asAdmin(ctx, 'admin_set_role');
      const row = await target(ctx, username, 'change the role of');
      if (row.kind !== 'person' && role === 'admin') throw fail('bot_not_admin', { username: row.username });
      await ctx.store.users.setRole(row.id, role);
      ctx.log.info('role set', { user: row.username, role, by: ctx.caller.user.username });
      return { username: row.username, role };
    },
  },
  admin_reset_2fa: {
    schema: events.admin_reset_2fa.request,
    async run(ctx, { username }) {
      await asAdmin(ctx, 'admin_reset_2fa');
      const row = await target(ctx, username, 'reset the two-factor login of');
      if (!(await ctx.store.twoFactor.remove(row.id))) throw fail('no_two_factor_of', { username: row.username });
      // Their sockets end: with TWO_FACTOR_REQUIRED the next ones are held until it is set up again.
      await endSessions(ctx, await ctx.store.sessions.liveIds(row.id, ctx.now()), 'logged_out');
      ctx.log.info('two-factor login reset', { user: row.username, by: ctx.caller.user.username });
      return { username: row.username, two_factor: false as const };
    },
  },
  admin_unlink_sso: {
    schema: events.admin_unlink_sso.request,
    async run(ctx, { username, provider }) {
      await asAdmin(ctx, 'admin_unlink_sso');
      const row = await target(ctx, username, 'unlink the single sign-on of');
      const { providers, sessions } = await unlinkAccount(ctx.store, row.id, provider ?? null, ctx.now());
      if (!providers.length) throw fail('no_sso_link_of', { username: row.username, to: provider ? ` to ${provider}` : '' });
      // What the provider let in ends now: whoever holds the provider's account is out at once.
      await endSessions(ctx, sessions, 'logged_out');
      ctx.log.info('single sign-on unlinked', { user: row.username, providers, sessions: sessions.length, by: ctx.caller.user.username });
      return { username: row.username, providers, sessions_ended: sessions.length };
    },
  },
  admin_stats: {
    schema: events.admin_stats.request,
    async run(ctx) {
      await asAdmin(ctx, 'admin_stats');
      const now = ctx.now();
      const { total, active_24h, active_7d, suspended } = await ctx.store.users.counts(now);
      const today = Math.floor(now / 86_400);
      const perDay = new Map((await ctx.store.stats.messagesPerDay((today - 29) * 86_400)).map((row) => [row.day, row.count]));
      const days = Array.from({ length: 30 }, (_, i) => new Date((today - 29 + i) * 86_400_000).toISOString().slice(0, 10));
      return {
        users: { total, active_24h, active_7d, online: await ctx.cluster.onlineCount(), suspended },
        messages_per_day: days.map((day) => ({ day, count: perDay.get(day) ?? 0 })),
        conversations: { group: 0, direct: 0, channel: 0, ...Object.fromEntries((await ctx.store.stats.conversationsByKind()).map((row) => [row.kind, row.count])) },
      };
    },
  },
} satisfies Partial<Handlers>;
