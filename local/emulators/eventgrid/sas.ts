import { createHmac, timingSafeEqual } from 'node:crypto';

/** Why an `aeg-sas-token` was refused; `undefined` when it is good. */
export type SasProblem = 'malformed' | 'expired' | 'wrong resource' | 'bad signature';

const SERVICE_TIME = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) (AM|PM)$/;

/**
 * Checks an Event Grid shared access signature (`r=<resource>&e=<expiry>&s=<signature>`, the format
 * `generateSharedAccessSignature` in @azure/eventgrid produces) against the topic's keys.
 * @example
 * verifySasToken(token, ['<base64 key>'], '/topics/vigil/api/events', clock.now()); // undefined when valid
 */
export function verifySasToken(
  token: string,
  keys: string[],
  topicPath: string,
  now: Date,
): SasProblem | undefined {
  const signatureAt = token.lastIndexOf('&s=');
  if (signatureAt < 0) return 'malformed';
  const unsigned = token.slice(0, signatureAt);
  const params = new URLSearchParams(token);
  const resource = params.get('r');
  const expiry = params.get('e');
  const signature = params.get('s');
  if (!resource || !expiry || !signature) return 'malformed';
  const expiresAt = parseServiceTime(expiry);
  if (!expiresAt) return 'malformed';
  if (expiresAt.getTime() <= now.getTime()) return 'expired';
  if (!sameResource(resource, topicPath)) return 'wrong resource';
  const presented = Buffer.from(signature, 'base64');
  const valid = keys.some((key) => {
    const expected = createHmac('sha256', Buffer.from(key, 'base64')).update(unsigned).digest();
    return expected.length === presented.length && timingSafeEqual(expected, presented);
  });
  return valid ? undefined : 'bad signature';
}

function sameResource(resource: string, topicPath: string): boolean {
  try {
    return new URL(resource).pathname.toLowerCase() === topicPath.toLowerCase();
  } catch {
    return false;
  }
}

/** "1/31/2026 2:05:09 PM" in UTC, the SDK's service time format. */
function parseServiceTime(value: string): Date | undefined {
  const match = SERVICE_TIME.exec(value);
  if (!match) return undefined;
  const [, month, day, year, hour, minute, second, half] = match.map((part) => part ?? '');
  const hour24 = (Number(hour) % 12) + (half === 'PM' ? 12 : 0);
  return new Date(
    Date.UTC(Number(year), Number(month) - 1, Number(day), hour24, Number(minute), Number(second)),
  );
}
