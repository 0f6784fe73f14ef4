// Events about slash commands: `/command` in a conversation, sent to an https URL whose answer comes back to the sender or into the conversation.
import * as v from 'valibot';
import { event, fields, id, integer, limits, seconds, conversationId } from '../spec.ts';
import { send_message } from './messages.ts';

export const SlashCommand = v.object({
  id,
  conversation_id: v.pipe(v.nullable(v.number()), v.description('null for a server-wide command')),
  scope: v.pipe(v.picklist(['conversation', 'server']), v.description('`conversation`: the conversation\'s own; `server`: server-wide, offered in every group and channel')),
  overridden: v.pipe(v.boolean(), v.description('true for a server-wide command the conversation has its own command of the same name for (that one runs)')),
  command: v.pipe(v.string(), v.description('its name, without the slash')),
  url: v.pipe(v.string(), v.description('where `run_command` POSTs')),
  username: v.pipe(v.string(), v.description('the account its answers shown to everyone are posted as: a member of the conversation (a server-wide command\'s joins a conversation when it first posts there)')),
  creator: v.pipe(v.nullable(v.string()), v.description('who made it; null once their account is deleted')),
  created_at: seconds,
});

/** A text that starts with a command: its name (group 1) and what follows it (group 2). */
export const commandText = /^\/([a-z0-9_-]{1,32})(?:\s+([\s\S]*))?$/;

const commandName = v.pipe(
  v.string('command must be a string'),
  v.regex(/^\/?[a-z0-9_-]{1,32}$/, 'command must be 1 to 32 lower-case letters, digits, \'_\' or \'-\' (a leading slash is dropped)'),
  v.transform((name) => name.replace(/^\//, '')),
);

export const create_command = event({
  summary: `Registers a slash command in a group or channel (its owner or an admin): \`run_command\` with text starting \`/command\` POSTs there, and so does a \`send_message\` starting with it (which is then not stored). An account named \`/command\` joins the conversation (members are pushed \`add_members\`) to post the answers shown to everyone. At most ${limits.commandsPerConversation} a conversation. Without \`conversation_id\`, a server administrator registers a server-wide command, offered in every group and channel (not direct conversations); a conversation's own command of the same name stands before it there. Its account joins a conversation when it first posts an answer there. At most ${limits.serverCommands} server-wide.`,
  request: fields({
    conversation_id: v.pipe(v.nullish(conversationId), v.description('optional: without it, a server-wide command (server administrators only)')),
    command: commandName,
    url: v.pipe(v.string('url must be a string'), v.description('`https:`, on a host COMMAND_HOSTS lists')),
  }),
  reply: v.object({
    id,
    command: v.string(),
    username: v.string(),
    secret: v.pipe(v.string(), v.description('shown this once: each call carries `Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with it>`')),
  }),
  errors: ['not_in_conversation', 'not_for_bots', 'direct_fixed', 'admins_only', 'admins_only_event', 'bad_command_url', 'command_taken', 'command_taken_server', 'too_many_commands', 'too_many_server_commands'],
});

/** What a failed `run_command` pushes to every socket of its sender. */
export const CommandFailed = v.object({
  command: v.pipe(v.string(), v.description('its name, without the slash')),
  conversation_id: v.number(),
  reason: v.pipe(v.string(), v.description('what went wrong: the last try\'s failure (`its server answered 503`, `no answer within 3000 ms`, a refused host…), or why its answer could not be posted (its account banned there, or unable to join a full conversation)')),
  attempts: v.pipe(v.number(), v.description('the POSTs made: 0 when none could be (a host no longer allowed), up to the tries allowed')),
});

export const get_commands = event({
  summary: 'Lists the slash commands a conversation offers (any member may): its own, then the server-wide ones (none in a direct conversation), each marked with its `scope`, a server-wide one the conversation has its own of `overridden`. Without `conversation_id`: the server-wide commands.',
  request: fields({ conversation_id: v.pipe(v.nullish(conversationId), v.description('optional: without it, the server-wide commands')) }),
  reply: v.array(SlashCommand),
  errors: ['not_in_conversation'],
});

export const delete_command = event({
  summary: 'Deletes a slash command: its account leaves the conversation (its messages stay). Its creator, or an owner or admin of the conversation; a server-wide command, a server administrator (its account leaves every conversation it posted in).',
  request: fields({ command_id: integer('expected command_id as integer') }),
  reply: v.object({ command_id: v.number() }),
  errors: ['not_for_bots', 'no_such_command_id'],
  fanout: 'The conversation is pushed `leave_conversation` for the command\'s account.',
});

export const run_command = event({
  summary: `Runs a slash command: POSTs JSON \`{command, text, conversation_id, username, command_id}\` (\`text\`: what follows the command) to its URL, signed, following no redirect, waiting at most COMMAND_TIMEOUT_MS. Its server answers 2xx with nothing, or JSON \`{"text": "...", "response_type"?: "ephemeral" | "in_channel"}\`: \`ephemeral\` (the default) comes back to you alone in this reply; \`in_channel\` is posted to the conversation as the command's account (members are pushed \`send_message\`). No answer in time or at all, or a 5xx, is tried again (${limits.commandAttempts} tries in all, ${limits.commandRetryMs} ms then ${limits.commandRetryMs * 2} ms apart; each carries \`Parley-Attempt: <n>\`); any other answer is final. A failure is the \`command_failed\` error, naming what went wrong and the tries made, and every socket of yours is pushed \`command_failed {command, conversation_id, reason, attempts}\`: nothing fails without your knowing. A server-wide command's account joins a conversation to post its first answer there as anyone added joins: not past the member cap (a full conversation fails the run, naming the cap), not where it is banned. A \`send_message\` whose content starts with a command the conversation offers runs it the same way. Not idempotent: a run sent again (by \`run_command\` or by \`send_message\` with the same \`client_id\`) calls the command's server again. Answered once the command's server has answered, so possibly after replies to later events.`,
  cost: 10,
  request: fields({
    conversation_id: conversationId,
    text: v.pipe(v.string('expected text as string'), v.maxLength(4000, 'text may be at most 4000 characters'), v.description('`/command` and what follows it')),
  }),
  reply: v.object({
    command: v.string(),
    response_type: v.picklist(['ephemeral', 'in_channel']),
    text: v.pipe(v.string(), v.description('the answer (empty when its server answered nothing)')),
    message: v.pipe(v.nullable(send_message.reply), v.description('for `in_channel`: the message posted')),
    attempts: v.pipe(v.number(), v.description('the POSTs it took: 1, or more when its server failed first in a way that may pass')),
  }),
  errors: ['not_for_bots', 'not_in_conversation', 'not_a_command', 'no_such_command', 'command_failed'],
  fanout: 'For `in_channel`, the conversation is pushed `send_message` from the command\'s account.',
});
