// Your account: its sessions, its password, and deleting it.
import { closeCodes, events } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { passwordProblem } from '../auth/credentials.ts';
import { checkCallerCode, checkCallerPassword } from '../auth/caller.ts';
import { PasswordsBusy } from '../auth/passwords.ts';
import { endSessions } from '../auth/sessions.ts';
import { logAndDeliver } from '../delivery/fanout.ts';
import { leave } from './members.ts';
import type { Ctx, SocketCtx } from '../context.ts';
import type { Handlers } from './handler.ts';

export const accountHandlers = {
  get_sessions: {
    schema: events.get_sessions.request,
    run: async (ctx) =>
      (await ctx.store.sessions.list(ctx.caller.user.id, ctx.now())).map((session) => ({ ...session, current: session.id === ctx.caller.sessionId })),
  },
  revoke_session: {
    schema: events.revoke_session.request,
    async run(ctx, { session_id }) {
      if (!(await ctx.store.sessions.liveIds(ctx.caller.user.id, ctx.now())).includes(session_id)) throw fail('no_such_session', { id: session_id });
      await endSessions(ctx, [session_id], 'logged_out');
      return { session_id };
    },
  },
  logout_all: {
    schema: events.logout_all.request,
    async run(ctx) {
      const ids = await ctx.store.sessions.liveIds(ctx.caller.user.id, ctx.now());
      await endSessions(ctx, ids, 'logged_out');
      return { sessions_ended: ids.length };
    },
  },
  change_password: {
    schema: events.change_password.request,
    async prepare(ctx, { old_password, new_password, code }) {
      await checkCallerPassword(ctx, old_password);
      await checkCallerCode(ctx, code);
      const problem = passwordProblem(ctx.settings, new_password, 'new_password');
      if (problem) throw fail('bad_new_password', { problem });
      try {
        return await ctx.passwords.hash(new_password, ctx.caller.ip);
      } catch (error) {
        throw error instanceof PasswordsBusy ? fail('passwords_busy') : error;
      }
    },
    async run(ctx, _input, passwordHash) {
      const me = ctx.caller.user;
      await ctx.store.users.setPassword(me.id, passwordHash as string);
      const others = (await ctx.store.sessions.liveIds(me.id, ctx.now())).filter((id) => id !== ctx.caller.sessionId);
      await endSessions(ctx, others, 'password_changed');
      ctx.log.info('password changed', { user: me.username, sessions_ended: others.length });
      return { sessions_ended: others.length };
    },
  },
  delete_account: {
    schema: events.delete_account.request,
    async prepare(ctx, { password, code }) {
      await checkCallerPassword(ctx, password);
      await checkCallerCode(ctx, code);
    },
    async run(ctx) {
      const me = ctx.caller.user;
      // Their bots go with them.
      for (const bot of await ctx.store.users.byIds(await ctx.store.bots.idsOf(me.id))) await removeAccount(ctx, bot);
      await removeAccount(ctx, me);
      ctx.log.info('account deleted', { user: me.username });
      return { username: me.username };
    },
  },
} satisfies Partial<Handlers>;

/**
 * Deletes an account (a person's or a bot's): every membership ends as a leave would (owners hand over,
 * the others are told), contacts are told, the username is held, and once committed its sockets close.
 */
export async function removeAccount(ctx: Ctx, user: { readonly id: number; readonly username: string }): Promise<void> {
  for (const conversationId of await ctx.store.conversations.idsForUser(user.id)) {
    const { data, audience } = await leave(ctx, conversationId, user, (await ctx.store.members.get(conversationId, user.id))!.role);
    await logAndDeliver(ctx, 'leave_conversation', data, audience);
  }
  for (const contactId of await ctx.store.contacts.ids(user.id)) await logAndDeliver(ctx, 'contact_removed', { username: user.username }, { users: [contactId] });
  await ctx.store.users.remove(user.id, user.username, ctx.now() + ctx.settings.USERNAME_HOLD_DAYS * 86_400);
  ctx.job.after((committed) => {
    if (!committed) return;
    const { code, reason } = closeCodes.user_gone;
    // After the batch's replies, this one included.
    const why = reason.replace('{username}', user.username);
    queueMicrotask(() => ctx.registry.closeWhere((connection) => connection.user.id === user.id, code, why));
    ctx.cluster.close({ user: user.id }, code, why);
  });
}

