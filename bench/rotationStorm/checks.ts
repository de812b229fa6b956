import type { SecretClient, SecretProperties } from '@azure/keyvault-secrets';
import { localVault, type Stack } from '../../local/stack.js';
import { canLogin } from '../../src/adapters/postgres.js';
import { rotationInstanceId } from '../../src/core/rotation/steps.js';
import { inParallel } from './inParallel.js';
import type { StormSecret } from './population.js';

/** The PostgreSQL server postgres-role secrets log in to. */
export interface PostgresServer {
  adminConnection(): { host: string; port: number; database: string; user: string; password: string };
}

/** A storm left a secret unrotated, rotated twice, with an enabled pending version, or failed. */
export class StormCorrectnessError extends Error {
  override name = 'StormCorrectnessError';
}

interface InstanceView {
  instanceId: string;
  runtimeStatus: string;
  output: { outcome?: string; error?: string; step?: string } | null;
}

const finished = ['Completed', 'Failed', 'Terminated', 'Canceled'];
/** Reads in flight while checking (the throttle is lifted by then). */
const readers = 16;

/**
 * Waits until every rotation instance of the run has finished (the last steps after promotion, and
 * any run a redelivered event started), then checks none failed.
 * @example
 * await settleInstances(stack, population.secrets, 600_000);
 */
export async function settleInstances(
  stack: Stack,
  secrets: readonly StormSecret[],
  timeoutMs: number,
): Promise<void> {
  const expected = new Set(secrets.map((secret) => rotationInstanceId(localVault, secret.name)));
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ours = (await listInstances(stack, 'rotate-secret:')).filter((i) => expected.has(i.instanceId));
    const bad = ours.filter((i) => i.runtimeStatus !== 'Completed' && finished.includes(i.runtimeStatus));
    const failed = ours.filter((i) => i.output?.outcome === 'failed');
    const first = bad[0] ?? failed[0];
    if (first)
      throw new StormCorrectnessError(
        `${bad.length + failed.length} rotations failed (first: ${first.instanceId} ${first.runtimeStatus}${first.output?.step ? ` at ${first.output.step}` : ''}${first.output?.error ? `: ${first.output.error.slice(0, 300)}` : ''})`,
      );
    const done = ours.filter((i) => finished.includes(i.runtimeStatus)).length;
    if (ours.length === expected.size && done === ours.length) return;
    if (performance.now() > deadline)
      throw new StormCorrectnessError(
        `after ${timeoutMs} ms, ${ours.length} of ${expected.size} rotation instances exist and ${done} have finished`,
      );
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * Checks every secret in Key Vault: its current version changed exactly once (two versions, the
 * new one current and carrying a rotation id), no `-pending` version is left enabled, and for
 * `postgres-role` secrets the new value logs in while the initial one no longer does.
 * @example
 * await checkRotatedOnce(client, population.secrets, stack.postgres);
 */
export async function checkRotatedOnce(
  client: SecretClient,
  secrets: readonly StormSecret[],
  database?: PostgresServer,
): Promise<void> {
  const problems: string[] = [];
  await inParallel(secrets, readers, async (secret) => {
    const problem = await checkOne(client, secret, database);
    if (problem !== undefined) problems.push(`${secret.name}: ${problem}`);
  });
  if (problems.length > 0)
    throw new StormCorrectnessError(
      `${problems.length} of ${secrets.length} secrets are not rotated exactly once (first: ${problems[0]})`,
    );
}

async function checkOne(
  client: SecretClient,
  secret: StormSecret,
  database: PostgresServer | undefined,
): Promise<string | undefined> {
  const versions = await versionsOf(client, secret.name);
  if (versions.length !== 2) return `${versions.length} versions, expected the initial one and one rotated`;
  const current = await client.getSecret(secret.name);
  const version = current.properties.version;
  if (version === secret.initialVersion) return 'the current version is still the initial one';
  if (current.properties.tags?.['vigil-rotation-id'] === undefined)
    return 'the current version carries no vigil-rotation-id';
  const pendingEnabled = (await versionsOf(client, `${secret.name}-pending`)).filter((v) => v.enabled);
  if (pendingEnabled.length > 0) return `${pendingEnabled.length} pending version(s) left enabled`;
  if (secret.role === undefined) return undefined;
  if (database === undefined) return 'a postgres-role secret, but no PostgreSQL server to log in to';
  const login = (password: string) =>
    canLogin({
      ...database.adminConnection(),
      user: secret.role ?? '',
      password,
      sslMode: 'verify-full',
    });
  if (!(await login(current.value ?? ''))) return `the current version does not log in as ${secret.role}`;
  if (await login(secret.initialValue ?? '')) return `the initial password still logs in as ${secret.role}`;
  return undefined;
}

/** Every version of the secret; none when it does not exist (a rotation that never created its pending one). */
async function versionsOf(client: SecretClient, name: string): Promise<SecretProperties[]> {
  const versions: SecretProperties[] = [];
  try {
    for await (const version of client.listPropertiesOfSecretVersions(name)) versions.push(version);
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  return versions;
}

/** Instances whose id starts with the prefix, through the host's Durable webhook. */
async function listInstances(stack: Stack, prefix: string): Promise<InstanceView[]> {
  const code = encodeURIComponent(stack.hostKeys.systemKeys.durabletask_extension);
  const response = await fetch(
    `${stack.hostUrl}/runtime/webhooks/durabletask/instances?instanceIdPrefix=${encodeURIComponent(prefix)}&code=${code}`,
  );
  if (!response.ok) throw new StormCorrectnessError(`listing instances answered ${response.status}`);
  return (await response.json()) as InstanceView[];
}
