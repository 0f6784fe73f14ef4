// Slash commands: registered by a conversation's owner or admins, run by members; the answer comes back to the sender or is posted as the command's account.
import { commandText, events, limits, type EventReply } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { checkCommandUrl, newCommandSecret, type CommandAnswer } from '../hooks/call.ts';
import { createDetachedConnection } from '../connection.ts';
import { logAndDeliver } from '../delivery/fanout.ts';
import { aPerson, asAdmin, memberOf, membership } from './membership.ts';
import { accountLeaves, joinedAccount, managed } from './integrations.ts';
import { sendMessages } from './messages.ts';
import { opened, type Handlers } from './handler.ts';
import type { CommandRow } from '../storage/stores/commands.ts';

const commandView = (row: CommandRow) => ({
  id: row.id, conversation_id: row.conversation_id, command: row.command, url: row.url, username: row.username, creator: row.creator, created_at: row.created_at,
});

type Called = { readonly command: CommandRow; readonly answer: CommandAnswer };

export const commandHandlers = {
  create_command: {
    schema: events.create_command.request,
    guard: memberOf,
    async run(ctx, { conversation_id, command, url }) {
      const me = await aPerson(ctx, 'make slash commands');
      const { conversation } = await asAdmin(ctx, conversation_id, 'add slash commands', 'add a slash command');
      const checked = checkCommandUrl(url, ctx.settings.COMMAND_HOSTS);
      if (!checked.ok) throw fail('bad_command_url', { problem: checked.error });
      if (await ctx.store.commands.named(conversation_id, command)) throw fail('command_taken', { id: conversation_id, command });
      if ((await ctx.store.commands.count(conversation_id)) >= limits.commandsPerConversation) throw fail('too_many_commands', { limit: limits.commandsPerConversation });
      const account = await joinedAccount(ctx, conversation, `/${command}`);
      const secret = newCommandSecret();
      const id = await ctx.store.commands.create({ conversationId: conversation_id, command, url, secret, userId: account.id, creatorId: me.id, now: ctx.now() });
      ctx.log.info('slash command created', { command, conversation: conversation_id, url, by: me.username });
      return { id, command, username: account.username, secret };
    },
  },
  get_commands: {
    schema: events.get_commands.request,
    guard: memberOf,
    run: async (ctx, { conversation_id }) => (await ctx.store.commands.ofConversation(conversation_id)).map(commandView),
  },
  delete_command: {
    schema: events.delete_command.request,
    async run(ctx, { command_id }) {
      const command = await managed(ctx, await ctx.store.commands.byId(command_id), 'delete slash commands');
      if (!command) throw fail('no_such_command_id', { id: command_id });
      await ctx.store.commands.remove(command.id);
      await accountLeaves(ctx, command.conversation_id, { id: command.user_id, username: command.username });
      ctx.log.info('slash command deleted', { command: command.command, conversation: command.conversation_id, by: ctx.caller.user.username });
      return { command_id: command.id };
    },
  },
  run_command: {
    schema: events.run_command.request,
    // The call to the command's server waits outside any unit of work (and holds no transaction).
    async prepare(ctx, { conversation_id, text }): Promise<Called> {
      const me = ctx.caller.user;
      if ((await ctx.store.users.byId(me.id))?.kind !== 'person') throw fail('not_for_bots', { action: 'run slash commands' });
      if (!(await ctx.store.conversations.withMember(conversation_id, me.id))) throw fail('not_in_conversation', { username: me.username, id: conversation_id });
      const [, name, rest = ''] = commandText.exec(text.trim()) ?? [];
      if (name === undefined) throw fail('not_a_command');
      const command = await ctx.store.commands.named(conversation_id, name);
      if (!command) throw fail('no_such_command', { id: conversation_id, command: name });
      const called = await ctx.commands.call(command.url, command.secret, { command: name, text: rest, conversation_id, username: me.username, command_id: command.id });
      if (!called.ok) {
        ctx.log.warn('slash command failed', { command: name, conversation: conversation_id, url: command.url, problem: called.problem, user: me.username });
        throw fail('command_failed', { command: name, problem: called.problem });
      }
      return { command, answer: called.answer };
    },
    async run(ctx, { conversation_id }, prepared) {
      const { command, answer } = prepared as Called;
      // Still a member now that the answer is in.
      await membership(ctx, conversation_id);
      const reply = { command: command.command, response_type: answer.response_type, text: answer.text, message: null };
      if (answer.response_type === 'ephemeral' || answer.text.trim() === '') return reply;
      // Shown to everyone: posted as the command's account, by send_message's own sending, and logged as a send_message.
      const account = { id: command.user_id, username: command.username };
      const caller = createDetachedConnection(account, `command:${command.id}`, ctx.caller.ip, ctx.caller.work, () => {}, () => {});
      const [outcome] = await sendMessages([{ ctx: { ...ctx, caller }, input: { conversation_id, content: answer.text } }]);
      if ('error' in outcome!) throw outcome.error;
      const { data, audience } = opened(outcome!.value);
      await logAndDeliver(ctx, 'send_message', data, audience!);
      return { ...reply, message: data as EventReply<'send_message'> };
    },
  },
} satisfies Partial<Handlers>;
