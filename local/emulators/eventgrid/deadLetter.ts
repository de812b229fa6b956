import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../http.js';
import type { DeliveryEvent, EventSchemaName } from './model.js';

/** Why and how an event ended undelivered, in the words Event Grid's dead-letter records use. */
export interface DeadLetterFacts {
  reason: string;
  deliveryAttempts: number;
  lastDeliveryOutcome: string;
  lastHttpStatusCode?: number;
  publishTime: Date;
  lastDeliveryAttemptTime?: Date;
}

/**
 * Writes one dead-lettered event as a JSON file under `dir`: the event as the subscription would have
 * received it plus Event Grid's dead-letter fields (camelCase for the Event Grid schema, lower-case
 * for CloudEvents, whose attribute names must be lower-case). Returns the file's path.
 * @example
 * await writeDeadLetter('.vigil/deadletter', 'EventGridSchema', event, { reason: 'MaxDeliveryAttemptsExceeded', ... });
 */
export async function writeDeadLetter(
  dir: string,
  schema: EventSchemaName,
  event: DeliveryEvent,
  facts: DeadLetterFacts,
): Promise<string> {
  const fields = {
    deadLetterReason: facts.reason,
    deliveryAttempts: facts.deliveryAttempts,
    lastDeliveryOutcome: facts.lastDeliveryOutcome,
    ...(facts.lastHttpStatusCode === undefined ? {} : { lastHttpStatusCode: facts.lastHttpStatusCode }),
    publishTime: facts.publishTime.toISOString(),
    ...(facts.lastDeliveryAttemptTime
      ? { lastDeliveryAttemptTime: facts.lastDeliveryAttemptTime.toISOString() }
      : {}),
  };
  const named =
    schema === 'EventGridSchema'
      ? fields
      : Object.fromEntries(Object.entries(fields).map(([key, value]) => [key.toLowerCase(), value]));
  await mkdir(dir, { recursive: true });
  const stamp = facts.publishTime.toISOString().replace(/[-:.]/g, '');
  const safeId = event.id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
  const path = join(dir, `${stamp}-${safeId}-${randomBytes(3).toString('hex')}.json`);
  await writeFileAtomic(path, `${JSON.stringify({ ...event, ...named }, null, 2)}\n`);
  return path;
}
