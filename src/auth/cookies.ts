// The `login-token` cookie: set at login, read on every authenticated request, cleared at logout.
import { parse, serialize } from 'cookie';
import type { Settings } from '../config.ts';
import { tokenLifetime } from './tokens.ts';

export const loginCookie = 'login-token';

function attributes(settings: Settings, maxAge: number) {
  return {
    httpOnly: true,
    maxAge,
    path: '/',
    secure: settings.COOKIE_SECURE,
    sameSite: settings.COOKIE_SAMESITE.toLowerCase() as 'strict' | 'lax' | 'none',
  };
}

export function setLoginCookie(settings: Settings, token: string): string {
  return serialize(loginCookie, token, attributes(settings, tokenLifetime));
}

export function clearLoginCookie(settings: Settings): string {
  return serialize(loginCookie, '', attributes(settings, 0));
}

/** The login token from a Cookie header, or undefined when there is none. */
export function readLoginToken(header: string): string | undefined {
  const token = header ? parse(header)[loginCookie] : undefined;
  return token || undefined;
}
