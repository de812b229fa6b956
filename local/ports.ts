import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

/** Below every system's ephemeral range, above the well-known and most registered service ports. */
const lowestPort = 20_000;

/**
 * A free loopback port for a process that must keep its port across restarts (the host, PostgreSQL).
 *
 * Why not `listen(0)` and close: the system hands out port-0 binds from its ephemeral range, so a
 * port learnt that way can be given to the next process that binds port 0 (an Azurite of a test
 * running alongside) before ours starts. A port picked below that range is never handed out that way;
 * only another caller of this function could race for it, and it picks at random from thousands.
 */
export async function stablePort(): Promise<number> {
  const highest = (await ephemeralRangeStart()) - 1;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = lowestPort + Math.floor(Math.random() * (highest - lowestPort + 1));
    if (await isFree(port)) return port;
  }
  throw new Error(`No free loopback port between ${lowestPort} and ${highest}`);
}

/** Linux says where its range starts; elsewhere the IANA range (49152) is the usual one. */
async function ephemeralRangeStart(): Promise<number> {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '49152');
  const start = Number.parseInt(range, 10);
  return Number.isInteger(start) && start > lowestPort + 1000 ? start : 49_152;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
