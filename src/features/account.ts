// Your account: its sessions, its password, and deleting it.
import { closeCodes, events } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { passwordProblem } from '../auth/credentials.ts';
import { endSessions } from '../auth/sessions.ts';
import { logAndDeliver } from '../fanout.ts';
import { leave } from './members.ts';
import type { Ctx } from '../context.ts';
import type { Handlers } from './handler.ts';

/** Checks the caller's password off the transaction (argon2 is slow by design). */
async function checkPassword(ctx: Ctx, password: string): Promise<void> {
  const row = ctx.store.users.byId(ctx.caller.user.id);
  if (!(await ctx.passwords.verify(row?.password_hash, password)) || !row) {
    ctx.log.warn('wrong password on a socket', { user: ctx.caller.user.username, ip: ctx.caller.ip });
    throw fail('wrong_password');
  }
}

export const accountHandlers = {
  get_sessions: {
    schema: events.get_sessions.request,
    run: (ctx) =>
      ctx.store.sessions.list(ctx.caller.user.id, ctx.now()).map((session) => ({ ...session, current: session.id === ctx.caller.sessionId })),
  },
  revoke_session: {
    schema: events.revoke_session.request,
    run(ctx, { session_id }) {
      if (!ctx.store.sessions.liveIds(ctx.caller.user.id, ctx.now()).includes(session_id)) throw fail('no_such_session', { id: session_id });
      endSessions(ctx, [session_id], 'logged_out');
      return { session_id };
    },
  },
  logout_all: {
    schema: events.logout_all.request,
    run(ctx) {
      const ids = ctx.store.sessions.liveIds(ctx.caller.user.id, ctx.now());
      endSessions(ctx, ids, 'logged_out');
      return { sessions_ended: ids.length };
    },
  },
  change_password: {
    schema: events.change_password.request,
    async prepare(ctx, { old_password, new_password }) {
      await checkPassword(ctx, old_password);
      const problem = passwordProblem(ctx.settings, new_password, 'new_password');
      if (problem) throw fail('bad_new_password', { problem });
      return ctx.passwords.hash(new_password);
    },
    run(ctx, _input, passwordHash) {
      const me = ctx.caller.user;
      ctx.store.users.setPassword(me.id, passwordHash as string);
      const others = ctx.store.sessions.liveIds(me.id, ctx.now()).filter((id) => id !== ctx.caller.sessionId);
      endSessions(ctx, others, 'password_changed');
      ctx.log.info('password changed', { user: me.username, sessions_ended: others.length });
      return { sessions_ended: others.length };
    },
  },
  delete_account: {
    schema: events.delete_account.request,
    prepare: (ctx, { password }) => checkPassword(ctx, password),
    run(ctx) {
      const me = ctx.caller.user;
      // Every membership ends as a leave would: owners hand over, the others are told.
      for (const conversationId of ctx.store.conversations.idsForUser(me.id)) {
        const { data, audience } = leave(ctx, conversationId, me, ctx.store.members.get(conversationId, me.id)!.role);
        logAndDeliver(ctx, 'leave_conversation', data, audience);
      }
      for (const contactId of ctx.store.contacts.ids(me.id)) logAndDeliver(ctx, 'contact_removed', { username: me.username }, { users: [contactId] });
      ctx.store.users.remove(me.id, me.username, ctx.now() + ctx.settings.USERNAME_HOLD_DAYS * 86_400);
      ctx.commit.after((committed) => {
        if (!committed) return;
        const { code, reason } = closeCodes.user_gone;
        // After the batch's replies, this one included.
        queueMicrotask(() => ctx.registry.closeWhere((connection) => connection.user.id === me.id, code, reason.replace('{username}', me.username)));
      });
      ctx.log.info('account deleted', { user: me.username });
      return { username: me.username };
    },
  },
} satisfies Partial<Handlers>;

