// The readiness probe's question to the database (does it answer a read?), what names the database, and
// the mark of the files folder a cluster shares.
import type { Sql } from '../engine/sql.ts';

export function probeStore(sql: Sql) {
  const answer = sql.prepare({ sqlite: 'SELECT count(*) FROM sqlite_schema', postgres: 'SELECT 1' });
  // PostgreSQL's system identifier (one per data directory, its replicas' too) and the database's oid
  // in it: the same from every node whatever address they reach it by, another for another database.
  const identity = sql.prepare({
    sqlite: "SELECT 'sqlite'",
    postgres: "SELECT (SELECT system_identifier FROM pg_control_system())::text || '/' || oid::text FROM pg_database WHERE datname = current_database()",
  });
  const marker = sql.prepare('SELECT marker FROM files_folder WHERE id = 1');
  const mark = sql.prepare('INSERT INTO files_folder (id, marker) VALUES (1, $1) ON CONFLICT DO NOTHING');
  return {
    /** The mark of the FILES_DIR the cluster's nodes share, once a node has set it. */
    filesMarker: (): Promise<string | undefined> => marker.value<string>(),
    /** Sets the mark unless a node did first; the mark that holds. */
    async markFiles(candidate: string): Promise<string> {
      await mark.run(candidate);
      return (await marker.value<string>())!;
    },
    /** Rejects with what the engine says when it cannot read (a closed handle, an I/O error, no connection). */
    answers: async (): Promise<boolean> => (await answer.value()) !== undefined,
    /** What names this database among others (a cluster's nodes share one: see src/cluster/index.ts). */
    identity: async (): Promise<string> => String(await identity.value()),
  };
}
