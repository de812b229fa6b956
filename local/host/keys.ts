import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The host's keys, as the real host keeps them in its secrets store. */
export interface HostKeys {
  /** Admin key: every route, the admin API and the system webhooks. */
  masterKey: string;
  /** Host-wide function key `default`: every function-level route. */
  functionKey: string;
  /** Extension keys guarding `/runtime/webhooks/{extension}`. */
  systemKeys: { eventgrid_extension: string; durabletask_extension: string };
  /** Signs the bearer tokens the local Easy Auth layer accepts. */
  tokenSigningKey: string;
}

const newKey = () => randomBytes(32).toString('base64url');

/**
 * Reads the keys file, creating it with fresh random keys on first use.
 * @example
 * const keys = await loadOrCreateKeys('.vigil/host');
 */
export async function loadOrCreateKeys(dataDir: string): Promise<HostKeys> {
  const file = path.join(dataDir, 'keys.json');
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) return parseKeys(file, text);
  const keys: HostKeys = {
    masterKey: newKey(),
    functionKey: newKey(),
    systemKeys: { eventgrid_extension: newKey(), durabletask_extension: newKey() },
    tokenSigningKey: newKey(),
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return keys;
}

function parseKeys(file: string, text: string): HostKeys {
  const keys = JSON.parse(text) as Partial<HostKeys>;
  const present = (value: unknown) => typeof value === 'string' && value.length >= 16;
  const missing = [
    ['masterKey', keys.masterKey],
    ['functionKey', keys.functionKey],
    ['systemKeys.eventgrid_extension', keys.systemKeys?.eventgrid_extension],
    ['systemKeys.durabletask_extension', keys.systemKeys?.durabletask_extension],
    ['tokenSigningKey', keys.tokenSigningKey],
  ].filter(([, value]) => !present(value));
  if (missing.length > 0) {
    const names = missing.map(([name]) => name).join(', ');
    throw new Error(
      `${file}: ${names} must be keys of at least 16 characters; delete the file to get new keys`,
    );
  }
  return keys as HostKeys;
}

/** Constant-time comparison of a presented key with the expected ones. */
export function keyMatches(presented: string | undefined | null, ...expected: string[]): boolean {
  if (!presented) return false;
  const given = Buffer.from(presented);
  return expected.some((key) => {
    const wanted = Buffer.from(key);
    return wanted.length === given.length && timingSafeEqual(wanted, given);
  });
}
