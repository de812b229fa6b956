/** The emulator was started or called with something it cannot serve (a bad option, an unknown vault). */
export class KeyVaultEmulatorError extends Error {
  override name = 'KeyVaultEmulatorError';
}

/**
 * A request the vault refuses, answered with Key Vault's error shape
 * `{ error: { code, message, innererror? } }` and the HTTP status the service uses.
 * @example
 * throw new KeyVaultRestError(404, 'SecretNotFound', 'A secret with (name/id) db was not found in this key vault.');
 */
export class KeyVaultRestError extends Error {
  override name = 'KeyVaultRestError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** The response body Key Vault sends for this error. */
  toBody(): { error: { code: string; message: string; innererror?: { code: string } } } {
    const error = { code: this.code, message: this.message };
    return { error: this.innerCode ? { ...error, innererror: { code: this.innerCode } } : error };
  }
}

/** 404 for a secret (or version) that does not exist, worded as Key Vault words it. */
export function secretNotFound(name: string, version?: string): KeyVaultRestError {
  const id = version ? `${name}/${version}` : name;
  return new KeyVaultRestError(
    404,
    'SecretNotFound',
    `A secret with (name/id) ${id} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command.`,
  );
}

/** 400 naming the field and the rule it broke. */
export function badParameter(field: string, rule: string, cause?: unknown): KeyVaultRestError {
  return new KeyVaultRestError(400, 'BadParameter', `${field}: ${rule}`, undefined, { cause });
}
