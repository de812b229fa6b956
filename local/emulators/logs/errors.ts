/** The emulator was started with something it cannot serve, or its data directory cannot be read. */
export class LogsIngestionEmulatorError extends Error {
  override name = 'LogsIngestionEmulatorError';
}

/**
 * A request the Logs Ingestion API refuses, answered as `{ error: { code, message } }` with its status.
 * @example
 * throw new LogsIngestionRestError(413, 'ContentLengthLimitExceeded', 'body: must be at most 1048576 bytes');
 */
export class LogsIngestionRestError extends Error {
  override name = 'LogsIngestionRestError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
