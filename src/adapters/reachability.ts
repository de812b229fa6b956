import { TableServiceClient } from '@azure/data-tables';

export interface Reachability {
  reachable: boolean;
  latencyMs: number;
  /** Why the dependency could not be reached; never includes credentials. */
  error?: string;
}

/** The service endpoint of a storage setting, without any key or SAS it may carry. */
export function tableEndpointOf(connection: string): string {
  const url = connection.startsWith('https://')
    ? connection
    : TableServiceClient.fromConnectionString(connection).url;
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/**
 * Probes an HTTP(S) endpoint: any HTTP answer, even 401 or 404, proves it is reachable.
 * @example
 * const { reachable } = await probe('https://127.0.0.1:10002/devstoreaccount1');
 */
export async function probe(url: string, timeoutMs = 2000): Promise<Reachability> {
  const started = performance.now();
  try {
    const response = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return { reachable: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { reachable: false, latencyMs: Math.round(performance.now() - started), error: describe(error) };
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
