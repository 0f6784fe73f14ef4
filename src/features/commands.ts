// Slash commands: registered by a conversation's owner or admins (server-wide: by a server administrator), run by members; the answer comes back to the sender or is posted as the command's account.
import { commandText, errorText, events, limits, type EventReply, type PushData } from '../../protocol/index.ts';
import { ParleyError, fail } from '../errors.ts';
import { pushText } from '../envelope.ts';
import { checkCommandUrl, newCommandSecret, type CommandAnswer } from '../hooks/call.ts';
import { createDetachedConnection } from '../connection.ts';
import { logAndDeliver } from '../delivery/fanout.ts';
import { aPerson, asAdmin, membership } from './membership.ts';
import { accountJoins, accountLeaves, joinedAccount, managed, newAccount } from './integrations.ts';
import { sendMessages } from './messages.ts';
import { opened, type Handlers } from './handler.ts';
import type { CommandRow } from '../storage/stores/commands.ts';
import type { ConversationRow } from '../storage/stores/conversations.ts';
import type { Ctx, SocketCtx } from '../context.ts';

const commandView = (row: CommandRow, overridden = false) => ({
  id: row.id, conversation_id: row.conversation_id, scope: row.conversation_id === null ? 'server' as const : 'conversation' as const, overridden,
  command: row.command, url: row.url, username: row.username, creator: row.creator, created_at: row.created_at,
});

type Called = { readonly command: CommandRow; readonly answer: CommandAnswer; readonly attempts: number };

/** The tries a call made, in words: `not sent`, `1 attempt`, `3 attempts`. */
const triesText = (attempts: number) => (attempts === 0 ? 'not sent' : `${attempts} attempt${attempts === 1 ? '' : 's'}`);

/**
 * A run that failed, told to every socket of its sender on every node (`command_failed`, not logged)
 * beside the error it answers: a socket that closed before the answer, or another tab, still learns of it.
 */
function failed(ctx: SocketCtx, data: PushData<'command_failed'>): ParleyError {
  const me = ctx.caller.user;
  ctx.log.warn('slash command failed', { ...data, user: me.username });
  const text = pushText('command_failed', data);
  ctx.registry.push([me.id], text);
  ctx.cluster.push('command_failed', [me.id], text);
  return fail('command_failed', { command: data.command, problem: data.reason, tries: triesText(data.attempts) });
}

/** Whether server-wide commands are offered in a conversation: in groups and channels, not direct conversations. */
const offersServerWide = (conversation: ConversationRow) => conversation.kind !== 'direct';

/** Registers a conversation's command (its owner or an admin, checked): its account joins the conversation. */
async function ofConversation(ctx: Ctx, conversation: ConversationRow, command: string) {
  if (await ctx.store.commands.named(conversation.id, command, false)) throw fail('command_taken', { id: conversation.id, command });
  if ((await ctx.store.commands.count(conversation.id)) >= limits.commandsPerConversation) throw fail('too_many_commands', { limit: limits.commandsPerConversation });
  return { account: await joinedAccount(ctx, conversation, `/${command}`), conversationId: conversation.id };
}

/** A server-wide command, when the caller, a person, is a server administrator; undefined otherwise, as for one that does not exist. */
async function serverWideManaged(ctx: Ctx, row: CommandRow): Promise<CommandRow | undefined> {
  const me = await aPerson(ctx, 'delete slash commands');
  return me.role === 'admin' ? row : undefined;
}

/** Registers a server-wide command (the caller is a server administrator, checked): its account joins no conversation until it posts in one. */
async function serverWide(ctx: Ctx, command: string) {
  if (await ctx.store.commands.named(null, command, true)) throw fail('command_taken_server', { command });
  if ((await ctx.store.commands.count(null)) >= limits.serverCommands) throw fail('too_many_server_commands', { limit: limits.serverCommands });
  const account = await newAccount(ctx, `/${command}`);
  return { account, conversationId: null };
}

export const commandHandlers = {
  create_command: {
    schema: events.create_command.request,
    async run(ctx, { conversation_id, command, url }) {
      // Membership first, as for every event that names a conversation: a non-member learns nothing.
      if (conversation_id != null) await membership(ctx, conversation_id);
      const me = await aPerson(ctx, 'make slash commands');
      const conversation = conversation_id == null ? undefined : (await asAdmin(ctx, conversation_id, 'add slash commands', 'add a slash command')).conversation;
      if (!conversation && me.role !== 'admin') throw fail('admins_only_event', { type: 'create_command without conversation_id' });
      const checked = checkCommandUrl(url, ctx.settings.COMMAND_HOSTS);
      if (!checked.ok) throw fail('bad_command_url', { problem: checked.error });
      const { account, conversationId } = conversation ? await ofConversation(ctx, conversation, command) : await serverWide(ctx, command);
      const secret = newCommandSecret();
      const id = await ctx.store.commands.create({ conversationId, command, url, secret, userId: account.id, creatorId: me.id, now: ctx.now() });
      ctx.log.info('slash command created', { command, conversation: conversationId ?? 'server-wide', url, by: me.username });
      return { id, command, username: account.username, secret };
    },
  },
  get_commands: {
    schema: events.get_commands.request,
    async run(ctx, { conversation_id }) {
      if (conversation_id == null) return (await ctx.store.commands.serverWide()).map((row) => commandView(row));
      const { conversation } = await membership(ctx, conversation_id);
      const own = await ctx.store.commands.ofConversation(conversation_id);
      const names = new Set(own.map((row) => row.command));
      const offered = offersServerWide(conversation) ? await ctx.store.commands.serverWide() : [];
      return [...own.map((row) => commandView(row)), ...offered.map((row) => commandView(row, names.has(row.command)))];
    },
  },
  delete_command: {
    schema: events.delete_command.request,
    async run(ctx, { command_id }) {
      const found = await ctx.store.commands.byId(command_id);
      const command = found?.conversation_id === null ? await serverWideManaged(ctx, found) : await managed(ctx, found as (CommandRow & { conversation_id: number }) | undefined, 'delete slash commands');
      if (!command) throw fail('no_such_command_id', { id: command_id });
      await ctx.store.commands.remove(command.id);
      const account = { id: command.user_id, username: command.username };
      // A server-wide command's account leaves every conversation it posted in.
      const conversations = command.conversation_id === null ? await ctx.store.members.conversationsOf(account.id) : [command.conversation_id];
      for (const conversationId of conversations) await accountLeaves(ctx, conversationId, account);
      ctx.log.info('slash command deleted', { command: command.command, conversation: command.conversation_id ?? 'server-wide', by: ctx.caller.user.username });
      return { command_id: command.id };
    },
  },
  run_command: {
    schema: events.run_command.request,
    // The call to the command's server waits outside any unit of work (and holds no transaction).
    async prepare(ctx, { conversation_id, text }): Promise<Called> {
      const me = ctx.caller.user;
      if ((await ctx.store.users.byId(me.id))?.kind !== 'person') throw fail('not_for_bots', { action: 'run slash commands' });
      const found = await ctx.store.conversations.withMember(conversation_id, me.id);
      if (!found) throw fail('not_in_conversation', { username: me.username, id: conversation_id });
      const [, name, rest = ''] = commandText.exec(text.trim()) ?? [];
      if (name === undefined) throw fail('not_a_command');
      const command = await ctx.store.commands.named(conversation_id, name, offersServerWide(found.conversation));
      if (!command) throw fail('no_such_command', { id: conversation_id, command: name });
      const called = await ctx.commands.call(command.url, command.secret, { command: name, text: rest, conversation_id, username: me.username, command_id: command.id });
      if (!called.ok) throw failed(ctx, { command: name, conversation_id, reason: called.problem, attempts: called.attempts });
      return { command, answer: called.answer, attempts: called.attempts };
    },
    async run(ctx, { conversation_id }, prepared) {
      const { command, answer, attempts } = prepared as Called;
      // Still a member now that the answer is in.
      const { conversation } = await membership(ctx, conversation_id);
      const reply = { command: command.command, response_type: answer.response_type, text: answer.text, message: null, attempts };
      if (answer.response_type === 'ephemeral' || answer.text.trim() === '') return reply;
      // Shown to everyone: posted as the command's account, by send_message's own sending, and logged as a send_message.
      const account = { id: command.user_id, username: command.username };
      // A server-wide command's account joins a conversation as it first posts there (not one it was banned from: send_message refuses it then).
      if (command.conversation_id === null && !(await ctx.store.members.get(conversation_id, account.id)) && !(await ctx.store.members.isBanned(conversation_id, account.id))) {
        // It joins as anyone added does: not past the cap.
        if ((await ctx.store.members.countToAdd(conversation_id)) >= limits.members) {
          throw failed(ctx, { command: command.command, conversation_id, reason: `its answer could not be posted: its account ${account.username} cannot join, ${errorText('too_many_members', { limit: limits.members })}`, attempts });
        }
        await accountJoins(ctx, conversation, account);
      }
      const caller = createDetachedConnection(account, `command:${command.id}`, ctx.caller.ip, ctx.caller.work, () => {}, () => {});
      const [outcome] = await sendMessages([{ ctx: { ...ctx, caller }, input: { conversation_id, content: answer.text } }]);
      if ('error' in outcome!) {
        // A refusal is told as the command's failure; anything else is a fault of the server's, answered (and logged) as `internal`.
        if (!(outcome.error instanceof ParleyError)) throw outcome.error;
        throw failed(ctx, { command: command.command, conversation_id, reason: `its answer could not be posted: ${outcome.error.message}`, attempts });
      }
      const { data, audience, command: again } = opened(outcome!.value);
      // An answer that is itself a command's text is not run (a command cannot call commands) nor posted.
      if (again) throw failed(ctx, { command: command.command, conversation_id, reason: `its answer could not be posted: it starts with the slash command ${again.text.split(/\s/, 1)[0]}`, attempts });
      await logAndDeliver(ctx, 'send_message', data, audience!);
      return { ...reply, message: data as EventReply<'send_message'> };
    },
  },
} satisfies Partial<Handlers>;
