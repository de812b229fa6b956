/**
 * Table storage caps a string property at 64 KiB (32 Ki UTF-16 characters) and an entity at
 * 1 MiB, so long JSON is cut into chunk properties, and what one entity cannot hold goes into
 * follow-on entities. The Azure Storage provider moves such payloads to blobs; rows keep this
 * local store to one service.
 */
export const chunkChars = 30_000;
export const chunksPerEntity = 14;

/**
 * Splits text into groups of property maps `{ [prefix + i]: chunk }`, one group per entity.
 * @example
 * const [first, ...followOn] = splitText('Event', json); // first goes on the main row
 */
export function splitText(
  prefix: string,
  text: string,
  perEntity = chunksPerEntity,
): Record<string, string>[] {
  const chunks: string[] = [];
  for (let at = 0; at < text.length; at += chunkChars) chunks.push(text.slice(at, at + chunkChars));
  if (chunks.length === 0) chunks.push('');
  const groups: Record<string, string>[] = [];
  for (let at = 0; at < chunks.length; at += perEntity) {
    const group: Record<string, string> = {};
    chunks.slice(at, at + perEntity).forEach((chunk, index) => {
      group[`${prefix}${index}`] = chunk;
    });
    groups.push(group);
  }
  return groups;
}

/**
 * Joins the chunk properties of one or more entities back into the text, in order.
 * @example
 * joinText('Event', [row, ...followOnRows]);
 */
export function joinText(prefix: string, entities: Record<string, unknown>[]): string {
  let text = '';
  for (const entity of entities) {
    for (let index = 0; index < chunksPerEntity; index += 1) {
      const chunk = entity[`${prefix}${index}`];
      if (typeof chunk !== 'string') break;
      text += chunk;
    }
  }
  return text;
}
