import type { IncomingMessage } from 'node:http';

/**
 * A request's body, or undefined when it is longer than `limit` bytes. The rest of an oversized
 * body is read and dropped, not buffered: the client is still sending, and only once it is done
 * does it read the 413 the caller answers.
 * @example
 * const body = await readBodyWithin(req, 1024 * 1024);
 * if (body === undefined) throw new RequestError(413, 'the body exceeds 1 MiB');
 */
export async function readBodyWithin(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}
