// One bounded HTTP POST to a push service or the webhook: never follows a redirect, reads at most a
// few KiB of the answer, and gives up after a deadline, whatever the other side does.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';

export type Answer = { status: number; headers: IncomingHttpHeaders; body: string };

/** Bytes of an answer kept (for the log); the rest is not read. */
export const maxAnswerBytes = 4096;

/** Keep-alive connections for both schemes; `ca` (tests only) replaces the well-known certificate authorities. */
export function createAgents(sockets: number, ca?: string) {
  const options = { keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'lifo' as const };
  return { https: new HttpsAgent({ ...options, ...(ca === undefined ? {} : { ca }) }), http: new HttpAgent(options) };
}

export type Agents = ReturnType<typeof createAgents>;

/**
 * POSTs `body` to `url`; resolves with the answer (its body cut to `maxAnswerBytes`), rejects on a
 * network failure or when `timeoutMs` passes before the answer is read. `lookup` replaces DNS resolution.
 */
export function post(url: URL, headers: OutgoingHttpHeaders, body: Buffer, options: { agents: Agents; timeoutMs: number; lookup?: LookupFunction | undefined }): Promise<Answer> {
  const secure = url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      outcome();
    };
    const request = send(url, {
      method: 'POST',
      agent: secure ? options.agents.https : options.agents.http,
      headers: { ...headers, 'Content-Length': body.length },
      ...(options.lookup ? { lookup: options.lookup } : {}),
    }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => settle(() => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk.subarray(0, Math.max(0, maxAnswerBytes - size)));
        size += chunk.length;
        if (size >= maxAnswerBytes) {
          // Enough to know what it said: the connection is dropped rather than read to the end.
          finish();
          response.destroy();
        }
      });
      response.on('end', finish);
      response.on('error', (error) => settle(() => reject(error)));
    });
    const deadline = setTimeout(() => {
      settle(() => reject(new Error(`no answer within ${options.timeoutMs} ms`)));
      request.destroy();
    }, options.timeoutMs);
    request.on('error', (error) => settle(() => reject(error)));
    request.end(body);
  });
}
