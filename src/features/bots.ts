// Bots: accounts a program holds by an API token, made, listed, given new tokens and deleted by their owner (or an admin).
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { avatarUrl } from '../delivery/views.ts';
import { usernameProblem } from '../auth/credentials.ts';
import { botSessionSeconds, newBotToken, newSessionId } from '../auth/bot-tokens.ts';
import { endSessions } from '../auth/sessions.ts';
import { removeAccount } from './account.ts';
import { aPerson } from './membership.ts';
import type { Ctx } from '../context.ts';
import type { BotRow } from '../storage/stores/bots.ts';
import type { Handlers } from './handler.ts';

/** A new token for the bot, in a new session: what the caller is shown once. */
async function issueToken(ctx: Ctx, userId: number): Promise<{ token: string; sessionId: string; hash: string }> {
  const { secret: token, hash } = newBotToken();
  const sessionId = newSessionId();
  const now = ctx.now();
  await ctx.store.sessions.create({ id: sessionId, userId, createdAt: now, expiresAt: now + botSessionSeconds });
  return { token, sessionId, hash };
}

/** A bot the caller may manage: their own, or any for an admin; else the answer for one that does not exist. */
async function managedBot(ctx: Ctx, username: string, action: string): Promise<BotRow & { owner_id: number }> {
  const me = await aPerson(ctx, action);
  const user = await ctx.store.users.byUsername(username);
  const bot = user?.kind === 'bot' ? await ctx.store.bots.byUserId(user.id) : undefined;
  if (!bot || (bot.owner_id !== me.id && me.role !== 'admin')) throw fail('no_such_bot', { username });
  return bot;
}

const botView = (row: BotRow) => ({
  username: row.username, fullname: row.fullname, avatar_url: avatarUrl(row.avatar_file_id), owner: row.owner, status: row.account_status, created_at: row.created_at,
});

export const botHandlers = {
  create_bot: {
    schema: events.create_bot.request,
    async run(ctx, { username, fullname }) {
      const me = await aPerson(ctx, 'make bots');
      const problem = usernameProblem(username);
      if (problem) throw fail('bad_username', { problem });
      if ((await ctx.store.bots.count(me.id)) >= limits.botsPerOwner) throw fail('too_many_bots', { limit: limits.botsPerOwner });
      const now = ctx.now();
      const id = (await ctx.store.users.isHeld(username, now)) ? null : await ctx.store.users.insertProgram({ username, fullname, kind: 'bot', now });
      if (id === null) throw fail('username_taken');
      const { token, sessionId, hash } = await issueToken(ctx, id);
      await ctx.store.bots.create({ userId: id, ownerId: me.id, tokenHash: hash, sessionId, now });
      ctx.log.info('bot created', { bot: username, owner: me.username });
      return { username, token };
    },
  },
  get_bots: {
    schema: events.get_bots.request,
    async run(ctx, { all }) {
      const me = await aPerson(ctx, 'list bots');
      if (all && me.role !== 'admin') throw fail('admins_only_event', { type: 'get_bots with all' });
      return (await (all ? ctx.store.bots.all() : ctx.store.bots.ofOwner(me.id))).map(botView);
    },
  },
  rotate_bot_token: {
    schema: events.rotate_bot_token.request,
    async run(ctx, { username }) {
      const bot = await managedBot(ctx, username, 'rotate bot tokens');
      // The old token's session ends: its sockets close, and it opens nothing again.
      await endSessions(ctx, [bot.session_id], 'logged_out');
      const { token, sessionId, hash } = await issueToken(ctx, bot.user_id);
      await ctx.store.bots.rotate(bot.user_id, hash, sessionId);
      ctx.log.info('bot token rotated', { bot: bot.username, by: ctx.caller.user.username });
      return { username: bot.username, token };
    },
  },
  delete_bot: {
    schema: events.delete_bot.request,
    async run(ctx, { username }) {
      const bot = await managedBot(ctx, username, 'delete bots');
      await removeAccount(ctx, { id: bot.user_id, username: bot.username });
      ctx.log.info('bot deleted', { bot: bot.username, by: ctx.caller.user.username });
      return { username: bot.username };
    },
  },
} satisfies Partial<Handlers>;
