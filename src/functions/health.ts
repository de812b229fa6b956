import { app, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import packageJson from '../../package.json' with { type: 'json' };
import { probe, tableEndpointOf } from '../adapters/reachability.js';
import { ConfigError, loadConfig } from '../config.js';

type DependencyHealth = { reachable: boolean; latencyMs: number } | { configured: false };

/**
 * GET /api/health (anonymous): the app's version and whether each configured dependency answers.
 * Callers see yes or no per dependency; why one is down goes to the log, not to anonymous callers.
 */
export async function health(_request: unknown, context: InvocationContext): Promise<HttpResponseInit> {
  const { version } = packageJson;
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    context.error(error.message);
    return { status: 503, jsonBody: { status: 'misconfigured', version, problems: error.problems } };
  }
  const endpoints: Record<string, string | undefined> = {
    stateStorage: tableEndpointOf(config.stateStorage),
    eventGrid: config.eventGrid?.endpoint,
    auditLog: config.audit?.endpoint,
  };
  const dependencies: Record<string, DependencyHealth> = {};
  await Promise.all(
    Object.entries(endpoints).map(async ([name, endpoint]) => {
      if (!endpoint) {
        dependencies[name] = { configured: false };
        return;
      }
      const { reachable, latencyMs, error } = await probe(endpoint);
      if (error) context.warn(`Health: ${name} at ${endpoint} is unreachable: ${error}`);
      dependencies[name] = { reachable, latencyMs };
    }),
  );
  const healthy = Object.values(dependencies).every(
    (dependency) => !('reachable' in dependency) || dependency.reachable,
  );
  return {
    status: healthy ? 200 : 503,
    jsonBody: { status: healthy ? 'ok' : 'degraded', version, dependencies },
  };
}

app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: health });
