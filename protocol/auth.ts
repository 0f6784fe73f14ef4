// Logging in and keeping the login token alive over HTTP: /auth/login, /auth/refresh, and the cookie
// jar a client outside a browser keeps (a browser keeps the cookies itself and never shows them).

/** The cookies of one server, for a client that is not a browser (Node). */
export type CookieJar = {
  /** The `Cookie` header for a request to this path: each cookie goes where its `Path` allows. */
  header(path: string): string;
  /** Takes the `Set-Cookie` lines of a response (`Max-Age=0` removes a cookie). */
  take(lines: readonly string[]): void;
  /** Seconds the login token lives, from the `Max-Age` of its last `Set-Cookie`; undefined before one. */
  readonly tokenLifetime: number | undefined;
};

export function createCookieJar(): CookieJar {
  const cookies = new Map<string, { value: string; path: string }>();
  let tokenLifetime: number | undefined;
  return {
    header(path) {
      const sent = [...cookies].filter(([, cookie]) => path === cookie.path || path.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`));
      return sent.map(([name, cookie]) => `${name}=${cookie.value}`).join('; ');
    },
    take(lines) {
      for (const line of lines) {
        const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
        const equals = pair.indexOf('=');
        if (equals < 1) continue;
        const name = pair.slice(0, equals);
        const found = (key: string) => attributes.find((attribute) => attribute.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
        const maxAge = found('max-age');
        if (maxAge !== undefined && Number(maxAge) <= 0) {
          cookies.delete(name);
          continue;
        }
        cookies.set(name, { value: pair.slice(equals + 1), path: found('path') ?? '/' });
        if (name === 'login-token' && maxAge !== undefined) tokenLifetime = Number(maxAge);
      }
    },
    get tokenLifetime() {
      return tokenLifetime;
    },
  };
}

/** A refused `/auth/login` or `/auth/refresh`: the HTTP status and the server's text. */
export class AuthError extends Error {
  readonly status: number;
  constructor(status: number, text: string) {
    super(text);
    this.name = 'AuthError';
    this.status = status;
  }
}

/** POSTs to an /auth route with the jar's cookies (a browser sends its own), and keeps what it sets. */
async function post(url: string, path: string, jar: CookieJar | undefined, body?: string): Promise<Response> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  const cookie = jar?.header(path);
  if (cookie) headers.cookie = cookie;
  const response = await fetch(new URL(path, url), { method: 'POST', credentials: 'include', headers, body });
  // Browsers never show Set-Cookie (getSetCookie answers nothing there): they keep the cookies themselves.
  jar?.take(response.headers.getSetCookie?.() ?? []);
  return response;
}

/**
 * Logs in. In a browser the cookies are kept by the browser (the jar stays empty); elsewhere pass
 * the jar this returns to `connect`. Rejects with an AuthError on a refusal: 401 `second factor
 * required` asks for `code` (a TOTP code or a recovery code) of an account with two-factor login.
 */
export async function login(url: string, username: string, password: string, code?: string): Promise<CookieJar> {
  const jar = createCookieJar();
  const response = await post(url, '/auth/login', jar, JSON.stringify(code === undefined ? { username, password } : { username, password, code }));
  if (response.status !== 202) throw new AuthError(response.status, await response.text());
  return jar;
}

/** The Web Locks API, where there is one (browsers, in a secure context). */
type Locks = { request<T>(name: string, run: () => Promise<T>): Promise<T> };

/**
 * Renews the login token (and rotates the refresh token). Resolves when it is renewed; rejects with
 * an AuthError when the server refuses (the session is over), or with the network's error.
 */
export async function refreshLogin(url: string, jar: CookieJar | undefined): Promise<void> {
  const refresh = async () => {
    const response = await post(url, '/auth/refresh', jar);
    if (response.status !== 200) throw new AuthError(response.status, await response.text());
  };
  // A browser's tabs share one refresh cookie: they refresh one at a time, each sending the token the
  // one before it set. At once, all but the first would need REFRESH_GRACE_SECONDS, and a browser
  // that took their answers' cookies out of order would keep a used token.
  const locks = jar ? undefined : (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
  return locks ? locks.request(`parley-refresh ${new URL(url).origin}`, refresh) : refresh();
}
