/**
 * Drops fields whose value is `undefined`, so results compare cleanly with `toEqual` and survive
 * a JSON round trip (Durable inputs and outputs) unchanged.
 * @example
 * withoutUndefined({ a: 1, b: undefined }); // { a: 1 }
 */
export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
