import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

/** Above the well-known and most registered service ports. */
const lowestPort = 20_000;
const highestPort = 65_535;

/**
 * A free loopback port for a process that must keep its port across restarts (the host, PostgreSQL).
 *
 * Why not `listen(0)` and close: the system hands out port-0 binds from its ephemeral range, so a
 * port learnt that way can be given to the next process that binds port 0 (an Azurite of a test
 * running alongside) before ours starts. A port picked outside that range is never handed out that
 * way; only another caller of this function could race for it, and it picks at random from thousands.
 */
export async function stablePort(): Promise<number> {
  const [low, high] = await portsOutsideEphemeralRange();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await isFree(port)) return port;
  }
  throw new Error(`No free loopback port between ${low} and ${high}`);
}

/** Below the ephemeral range, or above it when it starts too low. Linux says where it is; elsewhere IANA's. */
async function portsOutsideEphemeralRange(): Promise<[number, number]> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '49152 65535');
  const [start = 49_152, end = highestPort] = text.trim().split(/\s+/).map(Number);
  if (start - lowestPort >= 1000) return [lowestPort, start - 1];
  if (highestPort - end >= 1000) return [end + 1, highestPort];
  throw new Error(`The ephemeral port range ${start}-${end} leaves no room for fixed ports; narrow it`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
