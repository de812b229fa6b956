import { z } from 'zod';

/**
 * A pipeline probe proves the event path end to end: an event starts it, it checks Vigil's
 * dependencies in parallel, waits for an on-call engineer to acknowledge it (or a deadline),
 * and records what it found.
 */
export const probeRequestedEventType = 'Vigil.PipelineProbe.Requested';
export const probeAcknowledgedEvent = 'Acknowledged';

export interface ProbeRequest {
  probeId: string;
  /** How long to wait for an acknowledgement before recording a timeout. */
  ackTimeoutMinutes: number;
}

export interface DependencyCheck {
  dependency: string;
  reachable: boolean;
  detail?: string;
}

export interface ProbeResult {
  probeId: string;
  dependencies: DependencyCheck[];
  acknowledgement: { by: string; at: string } | { timedOutAt: string };
  completedAt: string;
}

/** The probe request is malformed; the message names each field and the rule it broke. */
export class ProbeRequestError extends Error {
  override name = 'ProbeRequestError';
}

const minutesPerWeek = 7 * 24 * 60;
const probeId = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be 1-64 letters, digits or dashes');

const probeRequest = z.object(
  {
    probeId,
    ackTimeoutMinutes: z.number().int().min(1).max(minutesPerWeek).default(60),
  },
  { error: 'must be an object' },
);

/**
 * Validates a probe request (the event's `data`, or an HTTP body).
 * @example
 * parseProbeRequest({ probeId: 'p-1' }); // { probeId: 'p-1', ackTimeoutMinutes: 60 }
 */
export function parseProbeRequest(data: unknown): ProbeRequest {
  const parsed = probeRequest.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'data'} ${issue.message}`);
    throw new ProbeRequestError(`Invalid probe request: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/**
 * Validates a probe id from a route, so it is safe as an instance id and a table row key.
 * @example
 * parseProbeId('p-1'); // 'p-1'
 */
export function parseProbeId(value: unknown): string {
  const parsed = probeId.safeParse(value);
  if (!parsed.success)
    throw new ProbeRequestError(`Invalid probe id: probeId ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** The orchestration instance of a probe: one per probe id, however often the event arrives. */
export function probeInstanceId(probeId: string): string {
  return `probe-${probeId}`;
}
