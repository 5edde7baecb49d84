import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';

const HOST = '127.0.0.1';

/**
 * The lowest port the kernel hands out for outgoing connections (Linux default 32768). Ports are picked
 * below it: a port from port 0 lies in that range, and while a service is stopped (restart() in the chaos
 * tests) a client's reconnect could take it as its local port, so the service could not listen again.
 */
function ephemeralLow(): number {
  try {
    const low = Number.parseInt(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'), 10);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // not Linux
  }
  return 32768;
}

/** A listening socket on a random free port below the ephemeral range, else (no room there) on port 0. */
async function listenOnFreePort(): Promise<net.Server> {
  const max = ephemeralLow() - 1;
  const min = Math.max(10_000, max - 12_000);
  for (let attempt = 0; min < max && attempt < 50; attempt++) {
    const server = await listen(randomInt(min, max + 1)).catch(() => undefined);
    if (server) return server;
  }
  return listen(0);
}

/** Listens on `port` (0 = any) and resolves with the server, or rejects (EADDRINUSE, …). */
function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port, host: HOST, exclusive: true }, () => resolve(server));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Whether nothing listens on 127.0.0.1:`port` right now. */
export async function isPortFree(port: number): Promise<boolean> {
  try {
    await close(await listen(port));
    return true;
  } catch {
    return false;
  }
}

/**
 * `count` distinct free TCP ports on 127.0.0.1. A preferred port (e.g. the one a service used in its
 * previous run in the same directory) is taken when it is free, so endpoints stay stable across runs.
 * All sockets are held open until every port is chosen, so the ports differ from each other.
 */
export async function freePorts(count: number, preferred: readonly (number | undefined)[] = []): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const want = preferred[i];
      let server: net.Server | undefined;
      if (want) server = await listen(want).catch(() => undefined);
      servers.push(server ?? (await listenOnFreePort()));
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** One free TCP port on 127.0.0.1 (`preferred` if it is free), below the ephemeral port range. */
export async function freePort(preferred?: number): Promise<number> {
  const [port] = await freePorts(1, [preferred]);
  return port!;
}
