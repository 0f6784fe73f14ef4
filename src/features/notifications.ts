// Notifications: the server's push key, your devices, how much each conversation may notify you, and
// an administrator's notice to people's devices.
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { checkSubscription } from '../push/endpoints.ts';
import { pushKey } from '../push/routes.ts';
import type { Ctx } from '../context.ts';
import type { DeviceRow, NewDevice } from '../storage/stores/devices.ts';
import { asAdmin } from './admin.ts';
import { memberOf } from './membership.ts';
import { tell, type Handlers } from './handler.ts';

function deviceView(ctx: Ctx, row: DeviceRow) {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    platform: row.platform,
    push_service: row.endpoint === null ? null : new URL(row.endpoint).host,
    created_at: row.created_at,
    current: row.session_id === ctx.caller.sessionId,
  };
}

/** What registering is asked to keep, checked: the fields of the other kind refused, a subscription Parley may send to, a webhook to send through. */
function deviceOf(ctx: Ctx, input: { kind: 'webpush' | 'webhook'; subscription?: { endpoint: string; keys: { p256dh: string; auth: string } } | null | undefined; token?: string | null | undefined; platform?: string | null | undefined }) {
  const { kind, subscription, token, platform } = input;
  if (kind === 'webpush') {
    if (token != null) throw fail('not_for_kind', { field: 'token', kind });
    if (platform != null) throw fail('not_for_kind', { field: 'platform', kind });
    if (subscription == null) throw fail('subscription_needed');
    const checked = checkSubscription(subscription, ctx.settings.PUSH_ENDPOINT_HOSTS);
    if (!checked.ok) throw fail('bad_subscription', { problem: checked.error });
    return { kind, endpoint: checked.value.endpoint, ...checked.value.keys } as const;
  }
  if (subscription != null) throw fail('not_for_kind', { field: 'subscription', kind });
  if (token == null) throw fail('token_needed');
  if (ctx.settings.PUSH_WEBHOOK_URL === undefined) throw fail('webhook_off');
  return { kind, token, platform: platform ?? null } as const;
}

export const notificationHandlers = {
  get_push_key: {
    schema: events.get_push_key.request,
    run: async (ctx) => pushKey(ctx),
  },
  register_device: {
    schema: events.register_device.request,
    async run(ctx, input) {
      const me = ctx.caller.user;
      const device = deviceOf(ctx, input);
      const others = await ctx.store.devices.countOthers(me.id, device.kind === 'webpush' ? device.endpoint : null, device.kind === 'webhook' ? device.token : null);
      if (others >= limits.devicesPerUser) throw fail('too_many_devices', { limit: limits.devicesPerUser });
      const now = ctx.now();
      const registered: NewDevice = { ...device, userId: me.id, sessionId: ctx.caller.sessionId, name: input.name ?? '', now };
      const id = await ctx.store.devices.register(registered);
      ctx.log.info('device registered', { user: me.username, device: id, kind: device.kind });
      return deviceView(ctx, {
        id, session_id: ctx.caller.sessionId, kind: device.kind, endpoint: device.kind === 'webpush' ? device.endpoint : null,
        platform: device.kind === 'webhook' ? device.platform : null, name: registered.name, created_at: now,
      });
    },
  },
  unregister_device: {
    schema: events.unregister_device.request,
    async run(ctx, { device_id }) {
      if (!(await ctx.store.devices.remove(ctx.caller.user.id, device_id))) throw fail('no_such_device', { id: device_id });
      return { device_id };
    },
  },
  get_devices: {
    schema: events.get_devices.request,
    run: async (ctx) => (await ctx.store.devices.list(ctx.caller.user.id)).map((row) => deviceView(ctx, row)),
  },
  set_notifications: {
    schema: events.set_notifications.request,
    guard: memberOf,
    async run(ctx, { conversation_id, level, until }) {
      const me = ctx.caller.user;
      if (level === 'default') {
        if (until != null) throw fail('until_with_default');
        await ctx.store.notifications.setLevel(conversation_id, me.id, null, null);
        return tell({ conversation_id, notifications: null }, { users: [me.id] });
      }
      if (until != null && until <= ctx.now()) throw fail('until_past');
      await ctx.store.notifications.setLevel(conversation_id, me.id, level, until ?? null);
      return tell({ conversation_id, notifications: { level, until: until ?? null } }, { users: [me.id] });
    },
  },
  admin_notify: {
    schema: events.admin_notify.request,
    async run(ctx, { usernames, all, title, body }) {
      await asAdmin(ctx, 'admin_notify');
      if ((usernames == null) === (all !== true)) throw fail('notice_audience');
      const ids: number[] = [];
      for (const username of usernames ?? []) {
        const row = await ctx.store.users.byUsername(username);
        if (!row) throw fail('no_such_user', { username });
        ids.push(row.id);
      }
      const me = ctx.caller.user;
      const now = ctx.now();
      const sent = await ctx.store.notifications.noticesSince(me.id, now - 3600);
      if (sent.count >= limits.noticesPerHour) throw fail('too_many_notices', { limit: limits.noticesPerHour, minutes: Math.ceil((sent.first! + 3600 - now) / 60) });
      const id = await ctx.store.notifications.addNotice(me.id, title, body, now);
      const devices = await ctx.store.outbox.forUsers({ kind: 'notice', id, title, body }, all ? 'all' : ids, now * 1000);
      if (devices > 0) ctx.job.after((committed) => committed && ctx.push.wake());
      ctx.log.info('notice sent', { by: me.username, notice: id, devices });
      return { notice_id: id, devices };
    },
  },
} satisfies Partial<Handlers>;
