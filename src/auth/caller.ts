// The password and the second factor a socket event asks of its caller, checked off the transaction and
// counted like a login's: a stolen login token buys no unlimited guesses at either.
import { fail } from '../errors.ts';
import type { SocketCtx } from '../context.ts';
import { checkPassword, secondsText } from './attempts.ts';
import { checkSecondFactor } from './second-factor.ts';

export async function checkCallerPassword(ctx: SocketCtx, password: string): Promise<void> {
  const me = ctx.caller.user;
  const user = await ctx.store.users.byId(me.id);
  if (user && user.kind !== 'person') throw fail('not_for_bots', { action: 'use a password: it has none' });
  const checked = await checkPassword(ctx, { account: me.username, user, ip: ctx.caller.ip }, password);
  if (checked.ok) return;
  if (checked.why === 'wrong') {
    ctx.log.warn('wrong password on a socket', { user: me.username, ip: ctx.caller.ip });
    throw fail('wrong_password');
  }
  ctx.log.warn('password check refused on a socket', { user: me.username, ip: ctx.caller.ip, why: checked.why });
  throw checked.why === 'throttled' ? fail('password_throttled', { wait: secondsText(checked.waitMs) }) : fail('passwords_busy');
}

/** Passes at once when the caller has no two-factor login on; otherwise `code` must be a right one, not used before. */
export async function checkCallerCode(ctx: SocketCtx, code: string | undefined): Promise<void> {
  const me = ctx.caller.user;
  const user = await ctx.store.users.byId(me.id);
  if (!user) return; // gone meanwhile: the event's own unit answers for it
  const checked = await checkSecondFactor(ctx, { user, ip: ctx.caller.ip }, code);
  if (checked.ok) return;
  if (checked.why === 'missing') throw fail('second_factor_required');
  if (checked.why === 'wrong') {
    ctx.log.warn('wrong second factor on a socket', { user: me.username, ip: ctx.caller.ip });
    throw fail('invalid_code');
  }
  ctx.log.warn('second factor check refused on a socket', { user: me.username, ip: ctx.caller.ip, why: checked.why });
  throw fail('code_throttled', { wait: secondsText(checked.waitMs) });
}
