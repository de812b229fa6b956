/**
 * `text` with every occurrence of each secret replaced by `[redacted]`.
 * @example
 * scrub('login failed for s3cret', ['s3cret']); // 'login failed for [redacted]'
 */
export function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((out, secret) => (secret === '' ? out : out.split(secret).join('[redacted]')), text);
}

/**
 * An SDK error reduced to its name and `message`, to keep as a cause: the SDK's RestError carries
 * the request, whose body may hold the value being written, so logging it whole could reveal it.
 */
export function detached(error: unknown, message: string): Error {
  const copy = new Error(message);
  copy.name = error instanceof Error ? error.name : 'Error';
  return copy;
}
