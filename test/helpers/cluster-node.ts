// A cluster node in a process of its own (the Redis parts only, no server), for tests that kill it
// or pause it: REDIS_URL, NODE_ID and NODE_TIMEOUT from the environment, commands as JSON lines on
// stdin, what happens as JSON lines on stdout. test/helpers/cluster.ts drives it.
import { createInterface } from 'node:readline';
import { readSettings } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startCluster } from '../../src/cluster/index.ts';

export type NodeCommand = { op: 'open'; user: number; max?: number } | { op: 'close'; user: number } | { op: 'leave' };

const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
// Only the Redis parts run here: a server would need DATABASE_URL beside REDIS_URL, these do not use it.
const settings = readSettings({ DATABASE_URL: 'postgres://unused@127.0.0.1/unused', ...process.env });
const sockets = new Map<number, number>();
const cluster = await startCluster({ ...settings, REDIS_URL: settings.REDIS_URL! }, createLogger('warn', (line) => say({ event: 'log', ...JSON.parse(line) })), {
  local: () => sockets,
  presenceChanged: (changes) => say({ event: 'changed', ...changes }),
}, ''); // no prefix: the tests look at the keys by their plain names
say({ event: 'ready', node: cluster.nodeId, pid: process.pid });

createInterface({ input: process.stdin }).on('line', async (line) => {
  const command = JSON.parse(line) as NodeCommand;
  try {
    if (command.op === 'leave') {
      await cluster.close();
      say({ event: 'left' });
      process.exit(0);
    }
    // As the registry would: the local count changes first, then Redis is told the new count.
    const here = (sockets.get(command.user) ?? 0) + (command.op === 'open' ? 1 : -1);
    if (here > 0) sockets.set(command.user, here);
    else sockets.delete(command.user);
    const result = command.op === 'open' ? await cluster.presence.opened(command.user, here, command.max) : await cluster.presence.closed(command.user, here);
    if ('admitted' in result && !result.admitted) sockets.set(command.user, here - 1);
    say({ event: command.op, user: command.user, ...result });
  } catch (error) {
    say({ event: 'error', op: command.op, name: (error as Error).name, message: (error as Error).message });
  }
});
