export interface Reachability {
  reachable: boolean;
  latencyMs: number;
  /** Why the dependency could not be reached; never includes credentials. */
  error?: string;
}

/** A storage connection string names no table endpoint; the message never repeats the string, which may hold a key. */
export class StorageConnectionError extends Error {
  override name = 'StorageConnectionError';
}

/** Where `UseDevelopmentStorage=true` points: Azurite's table service, as in the Tables SDK. */
const DEVELOPMENT_TABLE_ENDPOINT = 'http://127.0.0.1:10002/devstoreaccount1';

/**
 * The service endpoint of a storage setting, without any key or SAS it may carry.
 * @throws StorageConnectionError when a connection string names no table endpoint.
 * @example
 * tableEndpointOf('DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=…;EndpointSuffix=core.windows.net');
 * // 'https://acct.table.core.windows.net/'
 */
export function tableEndpointOf(connection: string): string {
  const parsed = new URL(connection.startsWith('https://') ? connection : tableUrlOf(connection));
  return `${parsed.origin}${parsed.pathname}`;
}

/**
 * Reads the table URL the way the Tables SDK does (TableEndpoint, else protocol, account and
 * suffix). Parsed here so that the health check does not load the SDK at cold start.
 */
function tableUrlOf(connection: string): string {
  const settings = new Map<string, string>();
  for (const part of connection.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) settings.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  if (settings.get('usedevelopmentstorage')?.toLowerCase() === 'true') return DEVELOPMENT_TABLE_ENDPOINT;
  const endpoint = settings.get('tableendpoint');
  if (endpoint) {
    if (!URL.canParse(endpoint))
      throw new StorageConnectionError('storage connection string: TableEndpoint must be an absolute URL');
    return endpoint.replace(/\/+$/, '');
  }
  const protocol = settings.get('defaultendpointsprotocol')?.toLowerCase();
  const account = settings.get('accountname');
  const suffix = settings.get('endpointsuffix');
  if ((protocol !== 'https' && protocol !== 'http') || !account || !suffix)
    throw new StorageConnectionError(
      'storage connection string: needs TableEndpoint, or DefaultEndpointsProtocol (http or https), AccountName and EndpointSuffix',
    );
  return `${protocol}://${account}.table.${suffix}`;
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
