/** A request ARM would refuse; answered in ARM's `{"error": {"code", "message"}}` shape. */
export class ArmRequestError extends Error {
  override name = 'ArmRequestError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The emulator itself was misconfigured (for example, a server registered twice). */
export class ArmEmulatorError extends Error {
  override name = 'ArmEmulatorError';
}
