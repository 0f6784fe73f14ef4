// The cookies: `login-token` (set at login and refresh, read on every authenticated request) and
// `refresh-token` (sent only to /auth, rotated by /auth/refresh), both cleared at logout; and
// `oidc-state`, which ties a single sign-on's answer to the browser that set out for the provider.
import { parse, serialize } from 'cookie';
import type { Settings } from '../config.ts';
import { refreshLifetime } from './tokens.ts';

export const loginCookie = 'login-token';
export const refreshCookie = 'refresh-token';
export const stateCookie = 'oidc-state';

function attributes(settings: Settings, maxAge: number, path = '/', sameSite = settings.COOKIE_SAMESITE.toLowerCase() as 'strict' | 'lax' | 'none') {
  return { httpOnly: true, maxAge, path, secure: settings.COOKIE_SECURE, sameSite };
}

export function setLoginCookie(settings: Settings, token: string): string {
  return serialize(loginCookie, token, attributes(settings, settings.LOGIN_TOKEN_SECONDS));
}

export function clearLoginCookie(settings: Settings): string {
  return serialize(loginCookie, '', attributes(settings, 0));
}

/** The refresh token goes only to the /auth routes. */
export function setRefreshCookie(settings: Settings, token: string): string {
  return serialize(refreshCookie, token, attributes(settings, refreshLifetime, '/auth'));
}

export function clearRefreshCookie(settings: Settings): string {
  return serialize(refreshCookie, '', attributes(settings, 0, '/auth'));
}

export function readRefreshToken(header: string): string | undefined {
  const token = header ? parse(header)[refreshCookie] : undefined;
  return token || undefined;
}

/** The login token from a Cookie header, or undefined when there is none. */
export function readLoginToken(header: string): string | undefined {
  const token = header ? parse(header)[loginCookie] : undefined;
  return token || undefined;
}

/** Lax whatever COOKIE_SAMESITE says: the provider sends the browser back from its own site, and a Strict cookie would stay behind. */
export function setStateCookie(settings: Settings, state: string, maxAge: number): string {
  return serialize(stateCookie, state, attributes(settings, maxAge, '/auth/oidc', 'lax'));
}

export function clearStateCookie(settings: Settings): string {
  return serialize(stateCookie, '', attributes(settings, 0, '/auth/oidc', 'lax'));
}

export function readStateCookie(header: string): string | undefined {
  return (header ? parse(header)[stateCookie] : undefined) || undefined;
}
