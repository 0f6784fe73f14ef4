// Why listening failed. uWebSockets.js only says that it did; binding the same address with Node's
// own sockets for a moment gives the system's reason, so the message can name the setting at fault.
import { createServer } from 'node:net';

export async function listenFailure(host: string, port: number): Promise<string> {
  const code = await new Promise<string | undefined>((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
  switch (code) {
    case 'EADDRINUSE':
      return `cannot listen on ${host}:${port}: PORT=${port} is in use by another program (stop it, or choose another PORT)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${host}:${port}: HOST=${host} is not an address of this machine (0.0.0.0 listens on all of them)`;
    case 'EACCES':
      return `cannot listen on ${host}:${port}: PORT=${port} needs privileges this process lacks (ports below 1024 usually do); choose another PORT`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return `cannot listen on ${host}:${port}: HOST=${host} does not resolve to an address`;
    case undefined:
      return `cannot listen on ${host}:${port}, though the address is free now: try again`;
    default:
      return `cannot listen on ${host}:${port} (${code}): check HOST and PORT`;
  }
}
