import { app, type HttpResponseInit } from '@azure/functions';
import packageJson from '../../package.json' with { type: 'json' };
import { probe, type Reachability, tableEndpointOf } from '../adapters/reachability.js';
import { ConfigError, loadConfig } from '../config.js';

type DependencyHealth = Reachability | { configured: false };

/** GET /api/health: the app's version and whether each configured dependency answers. */
export async function health(): Promise<HttpResponseInit> {
  const { version } = packageJson;
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { status: 503, jsonBody: { status: 'misconfigured', version, problems: error.problems } };
  }
  const dependencies: Record<string, DependencyHealth> = {
    stateStorage: await probe(tableEndpointOf(config.stateStorage)),
    eventGrid: config.eventGrid ? await probe(config.eventGrid.endpoint) : { configured: false },
  };
  const healthy = Object.values(dependencies).every(
    (dependency) => !('reachable' in dependency) || dependency.reachable,
  );
  return {
    status: healthy ? 200 : 503,
    jsonBody: { status: healthy ? 'ok' : 'degraded', version, dependencies },
  };
}

app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: health });
