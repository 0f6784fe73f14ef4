// The Parley wire protocol: every event, push and envelope, and the types derived from them.
import * as v from 'valibot';
import * as system from './events/system.ts';
import * as users from './events/users.ts';
import * as contacts from './events/contacts.ts';
import * as conversations from './events/conversations.ts';
import * as messages from './events/messages.ts';
import * as sync from './events/sync.ts';
import * as members from './events/members.ts';
import * as channels from './events/channels.ts';
import * as receipts from './events/receipts.ts';
import * as account from './events/account.ts';
import * as twoFactor from './events/two-factor.ts';
import * as notifications from './events/notifications.ts';
import * as files from './events/files.ts';
import * as invitations from './events/invitations.ts';
import * as threads from './events/threads.ts';
import * as bots from './events/bots.ts';
import * as webhooks from './events/webhooks.ts';
import * as commands from './events/commands.ts';
import * as retention from './events/retention.ts';
import * as exports from './events/exports.ts';
import { limits, type EventSpec, type PushSpec } from './spec.ts';
export { beforeSecondFactor } from './events/two-factor.ts';
import type { ErrorCode } from './errors.ts';

export const events = {
  ping: system.ping,
  self: users.self,
  update_profile: users.update_profile,
  get_user: users.get_user,
  search_users: users.search_users,
  set_status: users.set_status,
  verify_email: users.verify_email,
  add_contact: contacts.add_contact,
  get_contacts: contacts.get_contacts,
  remove_contact: contacts.remove_contact,
  block_user: contacts.block_user,
  unblock_user: contacts.unblock_user,
  get_blocked: contacts.get_blocked,
  create_conversation: conversations.create_conversation,
  get_conversations: conversations.get_conversations,
  list_conversations: conversations.list_conversations,
  get_conversation_info: conversations.get_conversation_info,
  update_conversation: conversations.update_conversation,
  delete_conversation: conversations.delete_conversation,
  set_favorite: conversations.set_favorite,
  set_pinned: conversations.set_pinned,
  clear_chat: conversations.clear_chat,
  set_retention: retention.set_retention,
  get_retention: retention.get_retention,
  get_members: members.get_members,
  add_members: members.add_members,
  remove_member: members.remove_member,
  set_member_role: members.set_member_role,
  leave_conversation: members.leave_conversation,
  get_invitations: invitations.get_invitations,
  accept_invitation: invitations.accept_invitation,
  decline_invitation: invitations.decline_invitation,
  list_channels: channels.list_channels,
  join_channel: channels.join_channel,
  ban_member: channels.ban_member,
  unban_member: channels.unban_member,
  get_banned: channels.get_banned,
  send_message: messages.send_message,
  get_messages: messages.get_messages,
  edit_message: messages.edit_message,
  delete_message: messages.delete_message,
  react: messages.react,
  unreact: messages.unreact,
  search_messages: messages.search_messages,
  get_thread: threads.get_thread,
  get_threads: threads.get_threads,
  follow_thread: threads.follow_thread,
  unfollow_thread: threads.unfollow_thread,
  mark_thread_read: threads.mark_thread_read,
  get_files: files.get_files,
  mark_read: receipts.mark_read,
  get_receipts: receipts.get_receipts,
  typing: receipts.typing,
  sync: sync.sync,
  get_sessions: account.get_sessions,
  revoke_session: account.revoke_session,
  logout_all: account.logout_all,
  change_password: account.change_password,
  delete_account: account.delete_account,
  request_export: exports.request_export,
  enable_2fa: twoFactor.enable_2fa,
  confirm_2fa: twoFactor.confirm_2fa,
  disable_2fa: twoFactor.disable_2fa,
  admin_list_users: account.admin_list_users,
  admin_set_user_status: account.admin_set_user_status,
  admin_set_role: account.admin_set_role,
  admin_stats: account.admin_stats,
  admin_reset_2fa: account.admin_reset_2fa,
  admin_unlink_sso: account.admin_unlink_sso,
  get_push_key: notifications.get_push_key,
  register_device: notifications.register_device,
  unregister_device: notifications.unregister_device,
  get_devices: notifications.get_devices,
  set_notifications: notifications.set_notifications,
  admin_notify: notifications.admin_notify,
  create_bot: bots.create_bot,
  get_bots: bots.get_bots,
  rotate_bot_token: bots.rotate_bot_token,
  delete_bot: bots.delete_bot,
  create_webhook: webhooks.create_webhook,
  get_webhooks: webhooks.get_webhooks,
  rotate_webhook_secret: webhooks.rotate_webhook_secret,
  delete_webhook: webhooks.delete_webhook,
  create_command: commands.create_command,
  get_commands: commands.get_commands,
  delete_command: commands.delete_command,
  run_command: commands.run_command,
} as const satisfies Record<string, EventSpec>;

export const pushes = {
  user_status: {
    summary: 'A contact came online (their first socket opened), went offline (their last socket closed), or changed their status (`set_status`; `invisible` looks like going offline). Not logged: no `seq`.',
    data: v.object({ username: v.string(), is_online: v.boolean(), status: users.User.entries.status, status_text: v.string() }),
    to: 'every socket of each online contact (not blocked either way); never to the user themself',
  },
  user_updated: {
    summary: 'A contact changed their profile or picture (`update_profile`), or you did from another socket.',
    data: v.object({ user: users.User }),
    to: 'every socket of each contact, and your other sockets',
  },
  contact_removed: {
    summary: 'A contact relation ended (`remove_contact`, or a block): it names the other side.',
    data: v.object({ username: v.string() }),
    to: 'every socket of both people but the requesting socket',
  },
  contact_added: {
    summary: 'Someone added you as a contact, or you added someone from another socket.',
    data: v.object({ contact: users.User }),
    to: 'every socket of the added user (naming the adder) and the adder\'s other sockets (naming the added user)',
  },
  create_conversation: {
    summary: 'A conversation you are a member of was created; the same envelope as the creator\'s reply, without `ref`.',
    data: conversations.create_conversation.reply,
    to: 'every socket of every member except the creator\'s requesting socket',
  },
  invitation: {
    summary: 'Someone invited you to a conversation (your `who_may_add` did not let them add you): answer with `accept_invitation` or `decline_invitation`. Logged, with `seq`.',
    data: v.object({ invitation: invitations.Invitation }),
    to: 'every socket of the invited user',
  },
  send_message: {
    summary: 'A message was sent to a conversation you are a member of; the same envelope as the sender\'s reply, without `ref`.',
    data: messages.send_message.reply,
    to: 'every socket of every member except the sender\'s requesting socket',
  },
  ...echoes({
    update_conversation: 'A conversation was renamed, or its description or picture changed.',
    delete_conversation: 'A conversation you were a member of was deleted: drop it and its messages.',
    set_status: 'You changed your status from another socket.',
    block_user: 'You blocked someone from another socket.',
    unblock_user: 'You unblocked someone from another socket.',
    set_favorite: 'You marked a conversation as a favorite, or not, from another socket.',
    set_pinned: 'You pinned or unpinned a conversation from another socket.',
    clear_chat: 'You cleared a conversation from another socket: hide its messages up to `cleared_id`.',
    set_retention: 'A conversation\'s retention changed: how many days it keeps its messages.',
    set_notifications: 'You changed how much a conversation notifies you, from another socket.',
    add_members: 'People joined a conversation (you among them, when you were added).',
    remove_member: 'Someone was removed from a conversation (you, when it is your username: the conversation is gone for you).',
    set_member_role: 'A member\'s role changed.',
    leave_conversation: 'Someone left a conversation (you, from another socket, when it is your username).',
    accept_invitation: 'Someone accepted an invitation and joined a conversation (you, from another socket).',
    decline_invitation: 'You declined an invitation from another socket.',
    join_channel: 'Someone joined a channel.',
    ban_member: 'Someone was banned from a conversation (and removed, if they were a member).',
    unban_member: 'Someone was unbanned (told to owners and admins).',
    edit_message: 'A message was edited.',
    delete_message: 'A message was deleted: show the tombstone.',
    react: 'Someone reacted to a message: its reactions now.',
    unreact: 'Someone took back a reaction: the message\'s reactions now.',
    follow_thread: 'You followed a thread from another socket.',
    unfollow_thread: 'You stopped following a thread from another socket.',
    mark_thread_read: 'You marked a thread read from another socket.',
  }),
  messages_expired: {
    summary: 'The retention job deleted a conversation\'s oldest messages (older than its `set_retention` days, or the server\'s RETENTION_DAYS): drop every message of it up to `through_id`. Their logged events are gone from `sync` too. Logged, with `seq`.',
    data: retention.MessagesExpired,
    to: 'every socket of every member of the conversation',
  },
  export_ready: {
    summary: 'An export you asked for (`request_export`) is ready: download it once from `url` with your login cookie before `expires_at`. Logged, with `seq`.',
    data: exports.ExportReady,
    to: 'every socket of the user who asked',
  },
  command_failed: {
    summary: 'A slash command you ran (`run_command`) failed: its server failed every try, answered what cannot be shown, or its answer could not be posted. Sent beside the `command_failed` error reply, so that no socket of yours misses it. Not logged: no `seq`.',
    data: commands.CommandFailed,
    to: 'every socket of the user who ran it, the requesting one included',
  },
  export_failed: {
    summary: 'An export you asked for will not come: its build failed, or was interrupted too often. You may ask again. Logged, with `seq`.',
    data: exports.ExportFailed,
    to: 'every socket of the user who asked',
  },
  receipt: {
    summary: `A member's delivered or read point moved. Gathered for ${limits.receiptDelayMs} ms, so a burst of messages gives one receipt per member. Logged, with \`seq\`. In conversations of more than ${limits.receiptPushMembers} members they are gathered for ${limits.receiptDelayLargeMs / 1000} s and only read points are pushed (delivered ones are kept for \`get_receipts\`).`,
    data: v.object({
      conversation_id: v.number(),
      username: v.string(),
      delivered_id: v.optional(v.number()),
      read_id: v.optional(v.number()),
    }),
    to: 'every socket of every member of the conversation',
  },
  typing: {
    summary: `A member started or stopped typing; \`is_typing: false\` also comes when ${limits.typingSeconds} s pass without a repeat, or their last socket closes. Not logged: no \`seq\`.`,
    data: v.object({ conversation_id: v.number(), username: v.string(), is_typing: v.boolean() }),
    to: 'every socket of the other online members',
  },
} as const satisfies Record<string, PushSpec>;

/**
 * Pushes that are the same envelope as an event's success reply, logged with `seq` and sent to the
 * others the event's fan-out names.
 */
function echoes<const E extends Partial<Record<keyof typeof events, string>>>(summaries: E) {
  return Object.fromEntries(
    Object.entries(summaries).map(([type, summary]) => {
      const spec: EventSpec = events[type as keyof typeof events];
      return [type, { summary: `${summary} The same envelope as the requester's reply, without \`ref\`.`, data: spec.reply, to: spec.fanout ?? '' }];
    }),
  ) as { [T in keyof E & keyof typeof events]: { summary: string; data: (typeof events)[T]['reply']; to: string } };
}

export type EventType = keyof typeof events;
export type PushType = keyof typeof pushes;
/** The fields a client sends for an event (besides `type` and `ref`). */
export type EventInput<T extends EventType> = v.InferInput<(typeof events)[T]['request']>;
/** The fields a handler receives once the request has been validated. */
export type EventRequest<T extends EventType> = v.InferOutput<(typeof events)[T]['request']>;
/** The `data` of a success reply. */
export type EventReply<T extends EventType> = v.InferOutput<(typeof events)[T]['reply']>;
export type PushData<T extends PushType> = v.InferOutput<(typeof pushes)[T]['data']>;

/** Correlates a reply with its request: echoed as given. */
export const Ref = v.union([
  v.pipe(v.string(), v.maxLength(limits.ref)),
  v.pipe(v.number(), v.safeInteger()),
]);
export type Ref = v.InferOutput<typeof Ref>;

/** `seq`: the event's place in the event log, on logged events (pushes, and the requester's reply). */
export type SuccessEnvelope<T extends string = string, D = unknown> = { type: T; success: true; data: D; seq?: number; ref?: Ref };
export type ErrorEnvelope<T extends string = string> = { type: T; success: false; error: string; code: ErrorCode; detail?: string; ref?: Ref };
export type Envelope = SuccessEnvelope | ErrorEnvelope;

export { errors, errorCodes, closeCodes, errorText } from './errors.ts';
export type { ErrorCode, ErrorName, CloseName } from './errors.ts';
export { limits } from './spec.ts';
export type { EventSpec, PushSpec } from './spec.ts';
export { User } from './events/users.ts';
export { commandText } from './events/commands.ts';
