/** Base class of every error the Event Grid emulator raises. */
export class EventGridEmulatorError extends Error {
  override name = 'EventGridEmulatorError';
}

/** A publish request or a configuration that breaks a rule; `status` is the HTTP status to answer with. */
export class EventGridRequestError extends EventGridEmulatorError {
  override name = 'EventGridRequestError';
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.code = code;
  }
}

/** The webhook did not complete the subscription validation handshake, so the subscription was not created. */
export class SubscriptionValidationError extends EventGridEmulatorError {
  override name = 'SubscriptionValidationError';
}

/** Shorthand for the 400 every malformed input gets. */
export function badRequest(message: string): EventGridRequestError {
  return new EventGridRequestError(400, 'BadRequest', message);
}
