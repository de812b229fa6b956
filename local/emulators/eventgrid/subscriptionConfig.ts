import { z } from 'zod';
import { badRequest } from './errors.js';
import { describeIssues } from './inbound.js';
import { EVENT_SCHEMAS, type EventSchemaName } from './model.js';

const endpointUrl = z
  .string({ error: (issue) => (issue.input === undefined ? 'required' : 'must be a string') })
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return url.protocol === 'https:' || url.protocol === 'http:';
      } catch {
        return false;
      }
    },
    { message: 'must be an absolute http(s) URL' },
  );

const boundedInt = (min: number, max: number) =>
  z
    .number({ error: `must be an integer from ${min} to ${max}` })
    .int(`must be an integer from ${min} to ${max}`)
    .min(min, `must be an integer from ${min} to ${max}`)
    .max(max, `must be an integer from ${min} to ${max}`);

const subscriptionConfigSchema = z.strictObject(
  {
    endpointUrl,
    eventDeliverySchema: z
      .enum(EVENT_SCHEMAS as [EventSchemaName, ...EventSchemaName[]], {
        error: `must be one of ${EVENT_SCHEMAS.join(', ')}`,
      })
      .optional(),
    filter: z
      .strictObject(
        {
          includedEventTypes: z
            .array(z.string().min(1, 'must not be empty'), { error: 'must be an array of strings' })
            .optional(),
          subjectBeginsWith: z.string({ error: 'must be a string' }).default(''),
          subjectEndsWith: z.string({ error: 'must be a string' }).default(''),
          isSubjectCaseSensitive: z.boolean({ error: 'must be true or false' }).default(false),
        },
        {
          error: (issue) =>
            issue.code === 'unrecognized_keys'
              ? `unknown field(s) ${issue.keys.join(', ')}`
              : 'must be an object',
        },
      )
      .default({ subjectBeginsWith: '', subjectEndsWith: '', isSubjectCaseSensitive: false }),
    // Azure's defaults: one event per delivery, 64 KB preferred batch size.
    maxEventsPerBatch: boundedInt(1, 5000).default(1),
    preferredBatchSizeInKilobytes: boundedInt(1, 1024).default(64),
    retryPolicy: z
      .strictObject({
        maxDeliveryAttempts: boundedInt(1, 30).default(30),
        eventTimeToLiveInMinutes: boundedInt(1, 1440).default(1440),
      })
      .default({ maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }),
    deadLetterDirectory: z
      .string({ error: 'must be a directory path' })
      .min(1, 'must not be empty')
      .optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : 'must be an object',
  },
);

/** A subscription as callers write it; omitted fields take Azure's defaults. */
export type SubscriptionConfigInput = z.input<typeof subscriptionConfigSchema>;
/** A subscription with every default filled in. */
export type SubscriptionConfig = Omit<z.output<typeof subscriptionConfigSchema>, 'eventDeliverySchema'> & {
  eventDeliverySchema: EventSchemaName;
};

/**
 * Validates a subscription definition for a topic with the given input schema; errors name the field.
 * @example
 * parseSubscriptionConfig({ endpointUrl: 'https://127.0.0.1:7443/hook' }, 'EventGridSchema').maxEventsPerBatch; // 1
 */
export function parseSubscriptionConfig(
  input: unknown,
  topicInputSchema: EventSchemaName,
): SubscriptionConfig {
  const result = subscriptionConfigSchema.safeParse(input);
  if (!result.success) throw badRequest(describeIssues(result.error.issues, 'subscription'));
  const eventDeliverySchema = result.data.eventDeliverySchema ?? topicInputSchema;
  if (topicInputSchema === 'CloudEventSchemaV1_0' && eventDeliverySchema === 'EventGridSchema') {
    throw badRequest(
      'subscription.eventDeliverySchema: EventGridSchema is not supported on a topic whose input schema is CloudEventSchemaV1_0',
    );
  }
  return { ...result.data, eventDeliverySchema };
}

/** The endpoint without its query string, which may hold a key (the Functions host's `code=`). */
export function endpointBaseUrl(endpointUrl: string): string {
  const url = new URL(endpointUrl);
  return `${url.origin}${url.pathname}`;
}
