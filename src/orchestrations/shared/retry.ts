import * as df from 'durable-functions';

/**
 * How activities retry transient failures (Key Vault throttling or outages, PostgreSQL down):
 * four attempts, 5, 10 and 20 s apart.
 */
export const retry = (() => {
  const options = new df.RetryOptions(5_000, 4);
  options.backoffCoefficient = 2;
  return options;
})();
