import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { stablePort } from '../../../local/ports.js';

describe('stablePort', () => {
  it('picks a free loopback port below the range the system hands out for port 0', async () => {
    const rangeStart = Number.parseInt(await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'), 10);
    const port = await stablePort();
    expect(port).toBeGreaterThanOrEqual(20_000);
    expect(port).toBeLessThan(rangeStart);
    const server = createServer();
    await new Promise<void>((resolve, reject) =>
      server.once('error', reject).listen(port, '127.0.0.1', resolve),
    );
    await new Promise((resolve) => server.close(resolve));
  });
});
