import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Listens on `host:port` (0: any free port) and resolves the port bound; rejects if it cannot. */
export function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops listening and drops idle keep-alive connections, so closing does not wait on them. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Writes a temporary file and renames it over `path`, so a reader never sees half a file. */
export async function writeFileAtomic(path: string, content: string, mode?: number): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, content, mode === undefined ? {} : { mode });
  await rename(temp, path);
}
