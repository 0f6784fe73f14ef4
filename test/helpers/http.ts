// Raw HTTP requests with full control over headers and body, for checking statuses, bodies and cookies exactly.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export type HttpResult = { status: number; body: string; headers: Record<string, string | string[] | undefined> };

/**
 * `localAddress`: the address to send from, e.g. another loopback address (all of 127.0.0.0/8 is local);
 * `ca`: for an https base, the certificate to trust.
 */
export function http(base: string, method: string, path: string, options: { body?: string | object; headers?: Record<string, string | string[]>; localAddress?: string; ca?: string } = {}): Promise<HttpResult> {
  const body = typeof options.body === 'object' ? JSON.stringify(options.body) : options.body;
  const url = new URL(path, base);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method, agent: false, localAddress: options.localAddress, ca: options.ca, headers: { ...options.headers, ...(body === undefined ? {} : { 'content-length': Buffer.byteLength(body) }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The login-token value from a response's Set-Cookie header. */
export function tokenFrom(result: HttpResult): string {
  const cookie = ([] as string[]).concat(result.headers['set-cookie'] ?? []).find((line) => line.startsWith('login-token='));
  if (!cookie) throw new Error(`no login-token cookie in ${result.status} ${result.body}`);
  return cookie.slice('login-token='.length).split(';')[0]!;
}

/**
 * A registration refused by REGISTRATIONS_PER_HOUR: 429, "retry in N seconds" and Retry-After N, where N is
 * an hour less the whole seconds since `firstMs` (taken just before the window's first registration was
 * sent): exactly 3600 only when everything took under a second, which a loaded machine does not promise.
 */
export function assertRegistrationsWait(result: HttpResult, firstMs: number): void {
  const passed = Math.ceil((Date.now() - firstMs) / 1000);
  const seconds = Number(/^too many registrations from this address: retry in (\d+) seconds$/.exec(result.body)?.[1]);
  assert.equal(result.status, 429, result.body);
  assert.ok(seconds <= 3600 && seconds >= 3600 - passed, `${result.body}, ${passed} s after the first registration`);
  assert.equal(result.headers['retry-after'], String(seconds));
}
