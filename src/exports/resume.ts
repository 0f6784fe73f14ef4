// Exports left unfinished when their node stopped (killed, crashed, or stopped mid-build) are built again:
// every minute, on one node of a cluster, each export whose lease lapsed is claimed and built, and one
// interrupted too often is given up with `export_failed`, so that no export is silently lost.
import type { App } from '../context.ts';
import { everyPeriod, type Periodic } from '../periodic.ts';
import { exportFailures, exportLease, type ExportBuilder } from './build.ts';

/** Builds an export gets at most: the request's, and two more after interruptions. */
export const exportAttempts = 3;

/**
 * Starts the rounds. A server alone (no REDIS_URL) first gives up every lease, before it listens: nobody
 * else builds, so what was being built was its previous run's, and is taken up at once rather than once
 * its lease lapses. In a cluster a lapsed lease (at most a minute after its node stopped) is the sign.
 */
export async function startExportResume(app: App, builder: ExportBuilder): Promise<Periodic> {
  if (!app.settings.REDIS_URL) {
    const released = await app.commit.run(({ store }) => store.exports.releaseAll());
    if (released) app.log.info('exports left unfinished by the last run', { exports: released });
  }
  return everyPeriod(app, 'export-resume', 60_000, async () => {
    while (!builder.stopping()) {
      const claimed = await app.commit.run(({ store }) => store.exports.claim(app.now(), app.now() + exportLease.seconds));
      if (!claimed) break;
      const { job, attempts } = claimed;
      if (attempts > exportAttempts) {
        app.log.error('export given up', { export: job.id, user: job.userId, attempts: attempts - 1 });
        await builder.fail(job, exportFailures.interrupted);
        continue;
      }
      app.log.info('export resumed', { export: job.id, user: job.userId, attempt: attempts });
      await builder.build(job);
    }
  });
}
