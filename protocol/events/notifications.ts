// Events about notifications that reach people who are not connected: devices (a browser's Web Push
// subscription, a native app through the operator's webhook), the server's push key, how much each
// conversation may notify you, and an administrator's notice.
import * as v from 'valibot';
import { event, fields, id, integer, limits, seconds, conversationId, conversationGuard as guard } from '../spec.ts';

export const levels = ['all', 'mentions', 'none'] as const;

export const Level = v.picklist(levels);

/** A level set for one conversation, and until when. */
export const NotificationSetting = v.object({
  level: v.pipe(Level, v.description('`all` messages, only those that @mention you, or `none`')),
  until: v.pipe(v.nullable(seconds), v.description('when it ends and your default applies again; null: for ever')),
});

export const Device = v.object({
  id,
  kind: v.picklist(['webpush', 'webhook']),
  name: v.pipe(v.string(), v.description('as registered; empty when none was given')),
  platform: v.pipe(v.nullable(v.string()), v.description('webhook devices: as registered; null otherwise')),
  push_service: v.pipe(v.nullable(v.string()), v.description('webpush devices: the host of the subscription\'s endpoint (the browser\'s push service); null otherwise')),
  created_at: seconds,
  current: v.pipe(v.boolean(), v.description('registered by the session this socket belongs to')),
});

const optionalText = (field: string, max: number) =>
  v.pipe(
    v.nullish(v.pipe(v.string(`${field} must be a string`), v.maxLength(max, `${field} may be at most ${max} characters`))),
    v.description(`optional; at most ${max} characters`),
  );

const subscriptionMessage = 'subscription must be the object PushManager.subscribe() gives: {endpoint, keys: {p256dh, auth}}';

export const get_push_key = event({
  summary: 'The server\'s VAPID public key, the `applicationServerKey` a browser subscribes with (also `GET /push/key`, before login), and which kinds of device this server can reach.',
  request: fields({}),
  reply: v.object({
    public_key: v.pipe(v.string(), v.description('the uncompressed P-256 public key, base64url')),
    webpush: v.pipe(v.boolean(), v.description('false when PUSH_ENDPOINT_HOSTS allows no push service')),
    webhook: v.pipe(v.boolean(), v.description('false when PUSH_WEBHOOK_URL is not set: `webhook` devices are refused')),
  }),
  errors: [],
});

export const register_device = event({
  summary: `Registers a device of yours that notifications go to while you have no socket open: a browser's Web Push subscription (\`kind: "webpush"\`, with \`subscription\` exactly as \`PushManager.subscribe()\` gives it), or a native app reached through the operator's webhook (\`kind: "webhook"\`, with the app's \`token\`). It belongs to this session: logging out or revoking the session removes it. The same subscription or token registered again replaces the earlier device. At most ${limits.devicesPerUser} devices per account.`,
  request: fields({
    kind: v.picklist(['webpush', 'webhook'], 'kind must be one of webpush, webhook'),
    subscription: v.pipe(
      v.nullish(v.object({
        endpoint: v.string('subscription.endpoint must be a string'),
        keys: v.object({
          p256dh: v.string('subscription.keys.p256dh must be a string'),
          auth: v.string('subscription.keys.auth must be a string'),
        }, 'subscription.keys must be an object: {p256dh, auth}'),
        expirationTime: v.pipe(v.nullish(v.number('subscription.expirationTime must be a number or null')), v.description('ignored')),
      }, subscriptionMessage)),
      v.description('`webpush` only: `endpoint` an https URL on a push service PUSH_ENDPOINT_HOSTS allows; `keys.p256dh` a P-256 public key (65 bytes), `keys.auth` 16 bytes, both base64url'),
    ),
    token: v.pipe(
      v.nullish(v.pipe(
        v.string('token must be a string'),
        v.nonEmpty('token must not be empty'),
        v.maxLength(limits.deviceToken, `token may be at most ${limits.deviceToken} characters`),
      )),
      v.description('`webhook` only: the app\'s push token (FCM, APNs, …), handed to the webhook with each notification'),
    ),
    platform: v.pipe(
      v.nullish(v.pipe(v.string('platform must be a string'), v.regex(/^[A-Za-z0-9_.-]{1,32}$/, 'platform must be 1 to 32 letters, digits, ".", "_" or "-", such as ios or android'))),
      v.description('`webhook` only, optional: what the app runs on (`ios`, `android`…), handed to the webhook'),
    ),
    name: optionalText('name', limits.name),
  }),
  reply: Device,
  errors: ['subscription_needed', 'token_needed', 'not_for_kind', 'bad_subscription', 'webhook_off', 'too_many_devices'],
});

export const unregister_device = event({
  summary: 'Removes one of your devices: it gets no more notifications (also what a browser should do after `PushSubscription.unsubscribe()`).',
  request: fields({ device_id: integer('expected device_id as integer') }),
  reply: v.object({ device_id: id }),
  errors: ['no_such_device'],
});

export const get_devices = event({
  summary: 'Lists your devices (of every session), oldest first.',
  request: fields({}),
  reply: v.array(Device),
  errors: [],
  cost: 2,
});

export const set_notifications = event({
  summary: 'Sets how much a conversation notifies your devices: `all` messages, only `mentions` of you, or `none` (muted), for ever or `until` a time (an hour, till tomorrow); `default` goes back to your default (`update_profile` `notifications`). A mention notifies you even where only mentions do; nothing does where the level is `none`.',
  request: fields({
    conversation_id: conversationId,
    level: v.picklist([...levels, 'default'], 'level must be one of all, mentions, none, default'),
    until: v.pipe(
      v.nullish(integer('until must be a time in Unix seconds, or null')),
      v.description('optional; when the level ends (Unix seconds, in the future); null or absent: for ever. Not with `default`'),
    ),
  }),
  reply: v.object({
    conversation_id: id,
    notifications: v.pipe(v.nullable(NotificationSetting), v.description('as `get_conversations` shows it: null when your default applies')),
  }),
  guard,
  errors: ['until_with_default', 'until_past'],
  fanout: 'The same success event is pushed to your other sockets.',
});

export const admin_notify = event({
  summary: `Sends a notification to the devices of some users, or of everyone (admins only): a \`notice\` with a title and a body. At most ${limits.noticesPerHour} an hour per administrator. It goes to every device of theirs, connected or not.`,
  request: fields({
    usernames: v.pipe(
      v.nullish(v.pipe(
        v.array(v.string('usernames must be a list of usernames'), 'usernames must be a list of usernames'),
        v.nonEmpty('usernames must not be empty'),
        v.maxLength(limits.members, `usernames may list at most ${limits.members} users`),
      )),
      v.description('whom to notify; or `all`'),
    ),
    all: v.pipe(v.nullish(v.boolean('all must be true or false')), v.description('true: every user with a device')),
    title: v.pipe(v.string('title must be a string'), v.nonEmpty('title must not be empty'), v.maxLength(limits.noticeTitle, `title may be at most ${limits.noticeTitle} characters`)),
    body: v.pipe(v.string('body must be a string'), v.nonEmpty('body must not be empty'), v.maxLength(limits.noticeBody, `body may be at most ${limits.noticeBody} characters`)),
  }),
  reply: v.object({
    notice_id: id,
    devices: v.pipe(v.number(), v.description('devices it was queued for')),
  }),
  errors: ['admins_only_event', 'notice_audience', 'no_such_user', 'too_many_notices'],
});
