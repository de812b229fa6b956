/**
 * The baseline receiver: an Event Grid webhook that answers the handshake, parses each batch,
 * prints `accepted <probeId>` per event and answers 200. Run as its own process, as the host is:
 * `node trivialWebhook.js` prints `listening <port>` first.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let events: unknown;
    try {
      events = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const batch = Array.isArray(events) ? (events as Record<string, unknown>[]) : [];
    const handshake = batch.find(
      (event) => event.eventType === 'Microsoft.EventGrid.SubscriptionValidationEvent',
    );
    if (handshake) {
      const code = (handshake.data as { validationCode?: string } | undefined)?.validationCode;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ validationResponse: code }));
      return;
    }
    const lines = batch.map(
      (event) => `accepted ${(event.data as { probeId?: string } | undefined)?.probeId}\n`,
    );
    process.stdout.write(lines.join(''));
    res.writeHead(200).end();
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
