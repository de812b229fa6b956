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
});

export interface Config {
  taskHub: string;
  /** Table storage for Vigil's own state (idempotency, results, incidents). */
  stateStorage: string;
  /** Custom topic Vigil publishes its own events to; absent when not configured. */
  eventGrid?: { endpoint: string; key?: string };
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
  return {
    taskHub: settings.VIGIL_TASK_HUB,
    stateStorage: settings.VIGIL_STATE_STORAGE,
    ...(settings.VIGIL_EVENTGRID_TOPIC_ENDPOINT && {
      eventGrid: {
        endpoint: settings.VIGIL_EVENTGRID_TOPIC_ENDPOINT,
        ...(settings.VIGIL_EVENTGRID_TOPIC_KEY && { key: settings.VIGIL_EVENTGRID_TOPIC_KEY }),
      },
    }),
  };
}
