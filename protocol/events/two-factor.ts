// Events that set up and turn off two-factor login (TOTP, RFC 6238) for your own account.
import * as v from 'valibot';
import { event, fields, limits } from '../spec.ts';

const password = v.pipe(v.string('password must be a string'), v.nonEmpty('password must not be empty'));

/** A code from the authenticator app (6 digits), or one of the recovery codes in its place. */
export const secondFactorCode = v.pipe(
  v.string('code must be a string'),
  v.nonEmpty('code must not be empty'),
  v.maxLength(limits.name, `code may be at most ${limits.name} characters`),
  v.examples(['123456', 'k7m2p-9xqa4']),
);

/** The events a socket answers while the server requires two-factor login of its account and it has none yet (TWO_FACTOR_REQUIRED). */
export const beforeSecondFactor = ['ping', 'self', 'enable_2fa', 'confirm_2fa'] as const;

export const enable_2fa = event({
  summary: 'Starts setting up two-factor login: a new TOTP secret, shown this once, as text and as an `otpauth://` URI for a QR code. Nothing changes at login until `confirm_2fa` takes a first code; asking again replaces a set-up not yet confirmed. Answered once the password check is done, so possibly after replies to later events.',
  request: fields({ password }),
  reply: v.object({
    secret: v.pipe(v.string(), v.description('base32, for typing into an authenticator app')),
    uri: v.pipe(v.string(), v.description('`otpauth://totp/Parley:<username>?secret=…&issuer=Parley…`, to show as a QR code')),
  }),
  errors: ['password_throttled', 'passwords_busy', 'wrong_password', 'two_factor_on'],
});

export const confirm_2fa = event({
  summary: 'Turns two-factor login on with a first code from the authenticator app: from now on `POST /auth/login`, `change_password`, `delete_account` and `disable_2fa` need a code. Answers 10 recovery codes, shown this once: each works once in place of a code.',
  request: fields({ code: secondFactorCode }),
  reply: v.object({ recovery_codes: v.pipe(v.array(v.string()), v.description('10 one-time codes such as `k7m2p-9xqa4`; the server keeps only keyed hashes of them')) }),
  errors: ['no_pending_2fa', 'two_factor_on', 'invalid_code'],
});

export const disable_2fa = event({
  summary: 'Turns two-factor login off, with your password and a code (or a recovery code); the secret and the recovery codes left are forgotten. Answered once the checks are done, so possibly after replies to later events.',
  request: fields({ password, code: secondFactorCode }),
  reply: v.object({ two_factor: v.literal(false) }),
  errors: ['password_throttled', 'passwords_busy', 'wrong_password', 'two_factor_off', 'two_factor_kept', 'code_throttled', 'invalid_code'],
});
