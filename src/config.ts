import { z } from 'zod';

/** A setting is missing or malformed; `problems` names each one and the rule it broke. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid settings: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

const httpsUrl = z.url({ protocol: /^https$/, error: 'must be an https:// URL' });
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === '' ? undefined : value), schema.optional());

/**
 * A connection string (local Azurite) or an https endpoint reached with the
 * app's managed identity (Azure).
 */
const storageConnection = z
  .string({ error: 'is required' })
  .min(1, 'is required')
  .refine((value) => value.startsWith('https://') || /AccountName=|UseDevelopmentStorage=true/i.test(value), {
    error: 'must be a storage connection string or an https:// endpoint',
  });

const settingsSchema = z.object({
  VIGIL_TASK_HUB: z
    .string({ error: 'is required' })
    .regex(/^[A-Za-z][A-Za-z0-9]{2,44}$/, 'must be 3-45 letters or digits, starting with a letter'),
  VIGIL_STATE_STORAGE: storageConnection,
  VIGIL_EVENTGRID_TOPIC_ENDPOINT: optional(httpsUrl),
  VIGIL_EVENTGRID_TOPIC_KEY: optional(z.string().min(1)),
  VIGIL_AUDIT_ENDPOINT: optional(httpsUrl),
  VIGIL_AUDIT_RULE_ID: optional(
    z
      .string()
      .regex(
        /^dcr-[A-Za-z0-9-]{1,100}$/,
        "must be a data collection rule's immutable id: dcr- then letters, digits or -",
      ),
  ),
  VIGIL_AUDIT_STREAM: optional(
    z
      .string()
      .regex(
        /^Custom-[A-Za-z0-9_]{1,100}$/,
        'must be a custom stream name: Custom- then letters, digits or _',
      ),
  ),
});

export const DEFAULT_AUDIT_STREAM = 'Custom-VigilAudit_CL';

export interface Config {
  taskHub: string;
  /** Table storage for Vigil's own state (idempotency, results, incidents). */
  stateStorage: string;
  /** Custom topic Vigil publishes its own events to; absent when not configured. */
  eventGrid?: { endpoint: string; key?: string };
  /** Logs Ingestion target for audit records; absent when not configured (records go to the function log). */
  audit?: { endpoint: string; ruleId: string; stream: string };
}

/**
 * Reads and validates Vigil's settings. Call it inside handlers, never at import time,
 * so one bad setting fails the call that needs it instead of unregistering every function.
 * @example
 * const { stateStorage } = loadConfig();
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`));
  }
  const settings = parsed.data;
  const audit = auditSettings(settings);
  return {
    taskHub: settings.VIGIL_TASK_HUB,
    stateStorage: settings.VIGIL_STATE_STORAGE,
    ...(settings.VIGIL_EVENTGRID_TOPIC_ENDPOINT && {
      eventGrid: {
        endpoint: settings.VIGIL_EVENTGRID_TOPIC_ENDPOINT,
        ...(settings.VIGIL_EVENTGRID_TOPIC_KEY && { key: settings.VIGIL_EVENTGRID_TOPIC_KEY }),
      },
    }),
    ...(audit && { audit }),
  };
}

/** The audit target needs both the endpoint and the rule; one without the other is a mistake, not "off". */
function auditSettings(settings: z.infer<typeof settingsSchema>): Config['audit'] {
  const { VIGIL_AUDIT_ENDPOINT: endpoint, VIGIL_AUDIT_RULE_ID: ruleId } = settings;
  if (endpoint && !ruleId)
    throw new ConfigError(['VIGIL_AUDIT_RULE_ID is required when VIGIL_AUDIT_ENDPOINT is set']);
  if (ruleId && !endpoint)
    throw new ConfigError(['VIGIL_AUDIT_ENDPOINT is required when VIGIL_AUDIT_RULE_ID is set']);
  if (!endpoint || !ruleId) return undefined;
  return { endpoint, ruleId, stream: settings.VIGIL_AUDIT_STREAM ?? DEFAULT_AUDIT_STREAM };
}

const rotationSchema = z.object({
  VIGIL_KEYVAULT_URL_TEMPLATE: optional(
    z.string().refine(isVaultUrlTemplate, {
      error: 'must be an https:// URL, optionally with the placeholder {vault}',
    }),
  ),
  VIGIL_KEYVAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION: optional(
    z.enum(['true', 'false'], { error: 'must be true or false' }),
  ),
  VIGIL_ARM_ENDPOINT: optional(httpsUrl),
  VIGIL_ROTATION_VAULTS: optional(
    z
      .string()
      .regex(/^\s*[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9](\s*,\s*[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9])*\s*$/, {
        error: 'must be a comma-separated list of Key Vault names',
      }),
  ),
});

function isVaultUrlTemplate(value: string): boolean {
  try {
    const url = new URL(value.replaceAll('{vault}', 'vault'));
    return url.protocol === 'https:' && !/[{}]/.test(url.href);
  } catch {
    return false;
  }
}

export interface RotationConfig {
  /** `https://{vault}.vault.azure.net` in Azure; the vault name replaces `{vault}`. */
  keyVaultUrlTemplate: string;
  /**
   * Whether the Key Vault client checks that the 401 challenge names a Key Vault resource for the
   * vault's host. Only an emulator on a loopback address needs this off.
   */
  keyVaultChallengeVerification: boolean;
  /** Azure Resource Manager, overridable for the local ARM emulator. */
  armEndpoint: string;
  /** The vaults the rotation sweep scans for secrets marked for rotation. */
  rotationVaults: string[];
}

/**
 * Reads the settings secret rotation needs; every one has a default that suits Azure.
 * @example
 * const { keyVaultUrlTemplate } = loadRotationConfig();
 */
export function loadRotationConfig(env: NodeJS.ProcessEnv = process.env): RotationConfig {
  const parsed = rotationSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`));
  }
  const settings = parsed.data;
  return {
    keyVaultUrlTemplate: settings.VIGIL_KEYVAULT_URL_TEMPLATE ?? 'https://{vault}.vault.azure.net',
    keyVaultChallengeVerification: settings.VIGIL_KEYVAULT_DISABLE_CHALLENGE_RESOURCE_VERIFICATION !== 'true',
    armEndpoint: settings.VIGIL_ARM_ENDPOINT ?? 'https://management.azure.com',
    rotationVaults: (settings.VIGIL_ROTATION_VAULTS ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
  };
}
