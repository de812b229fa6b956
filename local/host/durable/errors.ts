/** The orchestrator returned something the extension protocol does not allow. */
export class DurableProtocolError extends Error {
  override name = 'DurableProtocolError';
}

/** The orchestrator's actions do not match its recorded history (non-deterministic code). */
export class NonDeterminismError extends Error {
  override name = 'NonDeterminismError';
}

/** A client request the engine refuses (unknown function, bad input, conflicting instance id). */
export class DurableClientError extends Error {
  override name = 'DurableClientError';
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 | 410 | 412,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Reading or writing the task hub's tables failed. */
export class DurableStoreError extends Error {
  override name = 'DurableStoreError';
}

/** A Durable setting (host.json `extensions.durableTask`) has a value the engine cannot use. */
export class DurableConfigError extends Error {
  override name = 'DurableConfigError';
}
