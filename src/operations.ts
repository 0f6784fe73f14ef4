// The operators' HTTP routes: liveness and readiness for load balancers and orchestrators, and the Prometheus scrape.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { App } from './context.ts';
import type { Request, Response, Routes } from './transport/http.ts';

/** How long one readiness probe's answer stands for every /readyz request. */
const readinessCacheMs = 1000;

const digest = (text: string) => createHash('sha256').update(text).digest();

/** `draining` is true from the stop signal on: a load balancer stops sending new clients before sockets close. */
export function operationRoutes(app: App, draining: () => boolean): Routes {
  async function probe(): Promise<boolean> {
    try {
      await app.store.probe.answers();
      app.log.debug('readiness probe: the database answers');
      return true;
    } catch (error) {
      app.log.error('readiness check: the database does not answer', { error });
      return false;
    }
  }

  // /readyz needs no credentials: a flood of it must not become a flood of database queries. One probe
  // a second at most, its answer shared by every request until the next.
  let probed: { at: number; answers: Promise<boolean> } | undefined;
  async function ready(): Promise<Response> {
    if (draining()) return { status: 503, body: 'shutting down' };
    const now = performance.now();
    if (!probed || now - probed.at >= readinessCacheMs) probed = { at: now, answers: probe() };
    if (!(await probed.answers)) return { status: 503, body: 'database unavailable' };
    return { status: 200, body: 'ready' };
  }

  const routes: Routes = {
    '/healthz': { GET: () => ({ status: 200, body: 'ok' }) },
    '/readyz': { GET: ready },
  };
  const token = app.settings.METRICS_TOKEN;
  if (token === undefined) return routes; // no token, no metrics: /metrics is an unknown route (404)

  // Hashes of equal length, compared in constant time: neither the token nor its length leaks through timing.
  const expected = digest(`Bearer ${token}`);
  async function scrape(request: Request): Promise<Response> {
    if (!timingSafeEqual(digest(request.authorization), expected)) {
      return { status: 401, body: 'metrics need Authorization: Bearer <METRICS_TOKEN>', headers: [['WWW-Authenticate', 'Bearer realm="metrics"']] };
    }
    return { status: 200, body: await app.metrics.text(), headers: [['Content-Type', app.metrics.contentType]] };
  }
  return { ...routes, '/metrics': { GET: scrape } };
}
