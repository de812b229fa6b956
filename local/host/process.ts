import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export interface HostProcessOptions {
  appRoot: string;
  port: number;
  dataDir: string;
  /** App settings and anything else the host process needs (NODE_EXTRA_CA_CERTS…). */
  env: Record<string, string>;
  /** Receives each line the host prints. */
  onLine?: (line: string) => void;
  readyTimeoutMs?: number;
}

/** The host exited before it answered, or never answered in time. */
export class HostStartError extends Error {
  override name = 'HostStartError';
}

/**
 * The local Functions host as its own process, so that tests can kill it (SIGKILL included)
 * and start it again on the same data, as Azure restarts a crashed worker.
 * @example
 * const host = await HostProcess.start({ appRoot, port: 7071, dataDir: '.vigil/host', env });
 * await host.kill('SIGKILL');
 */
export class HostProcess {
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;

  private constructor(url: string, child: ChildProcess) {
    this.url = url;
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(options: HostProcessOptions): Promise<HostProcess> {
    const main = path.join(options.appRoot, 'dist/local/host/main.js');
    const child = spawn(
      process.execPath,
      [main, '--app', options.appRoot, '--port', String(options.port), '--data', options.dataDir],
      // The IPC channel closes when this process dies, which tells the host to stop (see main.ts).
      { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
    );
    const lines: string[] = [];
    const onLine = (line: string) => {
      lines.push(line);
      if (lines.length > 50) lines.shift();
      options.onLine?.(line);
    };
    for (const stream of [child.stdout, child.stderr]) forEachLine(stream, onLine);
    const host = new HostProcess(`http://127.0.0.1:${options.port}`, child);
    await host.#waitReady(options.readyTimeoutMs ?? 30_000, lines);
    return host;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Sends the signal and waits for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill(signal);
    await this.#exited;
  }

  async #waitReady(timeoutMs: number, lines: string[]): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.#exited.then(() => {
      exited = true;
    });
    while (Date.now() < deadline && !exited) {
      // Only our own child counts: a stale host on the port answers with another pid, anything else not as JSON.
      const pid = await fetch(`${this.url}/admin/host/ping`)
        .then(async (response) => ((await response.json()) as { pid?: number }).pid)
        .catch(() => undefined);
      if (pid === this.#child.pid) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.kill('SIGKILL');
    const reason = exited ? 'exited before it answered' : `did not answer within ${timeoutMs} ms`;
    throw new HostStartError(`The host ${reason}. Its last lines:\n${lines.join('\n')}`);
  }
}

/** Hands each complete line the stream writes to `onLine`. */
export function forEachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let pending = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
}
