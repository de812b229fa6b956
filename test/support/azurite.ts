import { Azurite, type AzuriteOptions } from '../../local/services/azurite.js';

/**
 * Starts an in-memory Azurite for one test file and returns it with a stop function.
 * @example
 * const azurite = await startAzurite();
 * afterAll(() => azurite.stop());
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  return Azurite.start(options);
}
