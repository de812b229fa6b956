import { type PostgresConnection, setRolePassword } from '../../../src/adapters/postgres.js';
import { ArmEmulatorError, ArmRequestError } from './errors.js';
import type { AsyncOperations } from './operations.js';

const FLEXIBLE_SERVER_TYPE = 'Microsoft.DBforPostgreSQL/flexibleServers';

/** A Flexible Server the emulator answers for, backed by a real PostgreSQL. */
export interface FlexibleServerSpec {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location?: string;
  /** The role ARM reports as `administratorLogin` and whose password a PATCH changes. */
  administratorLogin: string;
  /**
   * How the emulator reaches the real server to change the administrator password, like Azure's
   * control plane does with its own privileged access: typically the local server's bootstrap superuser.
   */
  controlPlane: PostgresConnection;
  /** What ARM reports as `fullyQualifiedDomainName`; the control plane's host by default. */
  fullyQualifiedDomainName?: string;
  version?: string;
  tags?: Record<string, string>;
}

interface FlexibleServer extends Required<Omit<FlexibleServerSpec, 'tags'>> {
  tags: Record<string, string>;
  resourceId: string;
  /** The operation currently changing this server, if any: ARM answers 409 to a concurrent change. */
  busyWith?: string;
}

/** The PATCH properties the emulator implements; anything else is refused rather than ignored. */
const PATCHABLE_PROPERTIES = ['administratorLoginPassword'];

/**
 * Flexible Servers by resource id, matched case-insensitively as ARM does.
 * @example
 * const servers = new FlexibleServers(operations, 0);
 * servers.register({ subscriptionId, resourceGroup: 'rg', name: 'pg', administratorLogin: 'azureadmin', controlPlane });
 */
export class FlexibleServers {
  readonly #servers = new Map<string, FlexibleServer>();

  constructor(
    private readonly operations: AsyncOperations,
    private readonly operationDelayMs: number,
  ) {}

  register(spec: FlexibleServerSpec): { resourceId: string } {
    const resourceId = `/subscriptions/${spec.subscriptionId}/resourceGroups/${spec.resourceGroup}/providers/${FLEXIBLE_SERVER_TYPE}/${spec.name}`;
    const key = keyOf(spec.subscriptionId, spec.resourceGroup, spec.name);
    if (this.#servers.has(key))
      throw new ArmEmulatorError(`flexible server ${resourceId} is already registered`);
    this.#servers.set(key, {
      ...spec,
      location: spec.location ?? 'westeurope',
      fullyQualifiedDomainName: spec.fullyQualifiedDomainName ?? spec.controlPlane.host,
      version: spec.version ?? '16',
      tags: { ...spec.tags },
      resourceId,
    });
    return { resourceId };
  }

  /** `GET …/flexibleServers/{name}`: the resource as ARM shows it (never a password). */
  get(subscriptionId: string, resourceGroup: string, name: string): object {
    return toResource(this.#find(subscriptionId, resourceGroup, name));
  }

  /**
   * `PATCH …/flexibleServers/{name}`: validates the body, then changes the administrator password
   * on the real server in the background. Returns the async operation's id and location.
   */
  patch(
    subscriptionId: string,
    resourceGroup: string,
    name: string,
    body: unknown,
  ): { operationId: string; location: string } {
    const server = this.#find(subscriptionId, resourceGroup, name);
    const { password, tags } = readPatch(body, server.administratorLogin);
    if (server.busyWith !== undefined && this.operations.get(server.busyWith)?.status === 'InProgress')
      throw new ArmRequestError(
        409,
        'ServerBusy',
        `server '${server.name}' is busy with operation ${server.busyWith}; retry later`,
      );
    const operationId = this.operations.start(async () => {
      if (password !== undefined) await this.#changeAdministratorPassword(server, password);
      if (tags !== undefined) server.tags = tags;
    }, this.operationDelayMs);
    server.busyWith = operationId;
    return { operationId, location: server.location };
  }

  async #changeAdministratorPassword(server: FlexibleServer, password: string): Promise<void> {
    try {
      await setRolePassword(server.controlPlane, server.administratorLogin, password);
    } catch (error) {
      // The adapter's message names the real cause and never a password.
      throw new Error(
        `could not set the administrator password of '${server.name}': ${(error as Error).message}`,
      );
    }
    // The control plane may log in as the administrator itself; keep its credential current.
    if (server.controlPlane.user === server.administratorLogin)
      server.controlPlane = { ...server.controlPlane, password };
  }

  #find(subscriptionId: string, resourceGroup: string, name: string): FlexibleServer {
    const server = this.#servers.get(keyOf(subscriptionId, resourceGroup, name));
    if (server === undefined)
      throw new ArmRequestError(
        404,
        'ResourceNotFound',
        `The Resource '${FLEXIBLE_SERVER_TYPE}/${name}' under resource group '${resourceGroup}' was not found.`,
      );
    return server;
  }
}

function keyOf(subscriptionId: string, resourceGroup: string, name: string): string {
  return `${subscriptionId}/${resourceGroup}/${name}`.toLowerCase();
}

function toResource(server: FlexibleServer): object {
  return {
    id: server.resourceId,
    name: server.name,
    type: FLEXIBLE_SERVER_TYPE,
    location: server.location,
    tags: server.tags,
    sku: { name: 'Standard_B1ms', tier: 'Burstable' },
    properties: {
      administratorLogin: server.administratorLogin,
      version: server.version,
      state: 'Ready',
      fullyQualifiedDomainName: server.fullyQualifiedDomainName,
      storage: { storageSizeGB: 32 },
      network: { publicNetworkAccess: 'Disabled' },
      authConfig: { activeDirectoryAuth: 'Disabled', passwordAuth: 'Enabled' },
    },
  };
}

function readPatch(body: unknown, login: string): { password?: string; tags?: Record<string, string> } {
  if (!isObject(body)) throw invalid('the request body must be a JSON object');
  const unknownTop = Object.keys(body).filter((key) => !['properties', 'tags'].includes(key));
  if (unknownTop.length > 0)
    throw invalid(`the emulator does not implement updating ${unknownTop.join(', ')}`);
  const tags = body.tags === undefined ? undefined : readTags(body.tags);
  if (body.properties === undefined) return tags === undefined ? {} : { tags };
  if (!isObject(body.properties)) throw invalid('properties must be a JSON object');
  const unknownProperties = Object.keys(body.properties).filter((key) => !PATCHABLE_PROPERTIES.includes(key));
  if (unknownProperties.length > 0)
    throw invalid(
      `the emulator does not implement updating properties.${unknownProperties.join(', properties.')}`,
    );
  const password = body.properties.administratorLoginPassword;
  if (password === undefined) return tags === undefined ? {} : { tags };
  if (typeof password !== 'string') throw invalid('properties.administratorLoginPassword must be a string');
  checkComplexity(password, login);
  return tags === undefined ? { password } : { password, tags };
}

/**
 * Azure's rule for the administrator password: 8-128 characters from three of four classes, and
 * no part of the login (three or more consecutive letters or digits, ignoring case).
 */
function checkComplexity(password: string, login: string): void {
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((pattern) => pattern.test(password));
  if (password.length < 8 || password.length > 128 || classes.length < 3)
    throw new ArmRequestError(
      400,
      'PasswordNotComplex',
      'properties.administratorLoginPassword must be 8-128 characters with at least three of: upper case, lower case, digits, symbols',
    );
  const lower = password.toLowerCase();
  const runs = login.toLowerCase().match(/[a-z0-9]{3,}/g) ?? [];
  if (runs.some((run) => [...run].some((_, i) => i + 3 <= run.length && lower.includes(run.slice(i, i + 3)))))
    throw new ArmRequestError(
      400,
      'PasswordNotComplex',
      'properties.administratorLoginPassword must not contain part of the administrator login',
    );
}

function readTags(tags: unknown): Record<string, string> {
  if (!isObject(tags) || !Object.values(tags).every((value) => typeof value === 'string'))
    throw invalid('tags must be an object of strings');
  return tags as Record<string, string>;
}

function invalid(message: string): ArmRequestError {
  return new ArmRequestError(400, 'InvalidRequestContent', message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
