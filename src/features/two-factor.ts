// Two-factor login for your own account: setting it up (enable_2fa, confirm_2fa) and turning it off.
import { events } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { checkCallerCode, checkCallerPassword } from '../auth/caller.ts';
import { codeStep, newRecoveryCodes, newSecret, secondFactorRequired } from '../auth/second-factor.ts';
import type { Handlers } from './handler.ts';

export const twoFactorHandlers = {
  enable_2fa: {
    schema: events.enable_2fa.request,
    prepare: (ctx, { password }) => checkCallerPassword(ctx, password),
    async run(ctx) {
      const me = ctx.caller.user;
      const { secret, uri } = newSecret(me.username);
      if (!(await ctx.store.twoFactor.begin(me.id, ctx.secondFactor.seal(me.id, secret)))) throw fail('two_factor_on');
      ctx.log.info('two-factor set-up started', { user: me.username });
      return { secret, uri };
    },
  },
  confirm_2fa: {
    schema: events.confirm_2fa.request,
    async run(ctx, { code }) {
      const me = ctx.caller.user;
      const row = await ctx.store.twoFactor.get(me.id);
      if (!row) throw fail('no_pending_2fa');
      if (row.enabled_at !== null) throw fail('two_factor_on');
      const secret = ctx.secondFactor.open(me.id, row.secret);
      // Unreadable when the JWT secret changed since enable_2fa: a new enable_2fa seals a new one.
      const step = secret === undefined ? undefined : codeStep(secret, code, ctx.now());
      if (step === undefined) throw fail('invalid_code');
      const recoveryCodes = newRecoveryCodes();
      const hashes = recoveryCodes.map((recovery) => ctx.secondFactor.recoveryHash(me.id, recovery.replace('-', '')));
      if (!(await ctx.store.twoFactor.enable(me.id, ctx.now(), step, hashes))) throw fail('no_pending_2fa');
      ctx.job.after((committed) => {
        if (committed) ctx.caller.secondFactorDue = false;
      });
      ctx.log.info('two-factor login turned on', { user: me.username });
      return { recovery_codes: recoveryCodes };
    },
  },
  disable_2fa: {
    schema: events.disable_2fa.request,
    async prepare(ctx, { password, code }) {
      await checkCallerPassword(ctx, password);
      const me = await ctx.store.users.byId(ctx.caller.user.id);
      if ((await ctx.store.twoFactor.get(ctx.caller.user.id))?.enabled_at == null) throw fail('two_factor_off');
      if (me && secondFactorRequired(ctx.settings, me)) throw fail('two_factor_kept');
      await checkCallerCode(ctx, code);
    },
    async run(ctx) {
      const me = ctx.caller.user;
      if (!(await ctx.store.twoFactor.remove(me.id))) throw fail('two_factor_off');
      ctx.log.info('two-factor login turned off', { user: me.username });
      return { two_factor: false as const };
    },
  },
} satisfies Partial<Handlers>;
