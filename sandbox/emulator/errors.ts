/**
 * A service error the emulator answers with, in the awsJson wire format: HTTP `status`, JSON body
 * `{"__type": type, "message": message}`. `type` is the exception name from the service's API model
 * (e.g. `ResourceInUseException`), so SDK v3 clients raise the same exception class as against AWS.
 */
export class EmulatorServiceError extends Error {
  override readonly name = 'EmulatorServiceError';

  constructor(
    readonly type: string,
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
  }
}
