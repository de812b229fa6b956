import { randomUUID } from 'node:crypto';

export type OperationStatus = 'InProgress' | 'Succeeded' | 'Failed';

/** What `GET …/azureAsyncOperation/{id}` answers, as ARM shapes it. */
export interface AsyncOperation {
  name: string;
  status: OperationStatus;
  startTime: string;
  endTime?: string;
  error?: { code: string; message: string };
}

/**
 * Long-running operations: each runs its work in the background after an optional delay and
 * records how it ended, which is what the SDK's poller reads from the `Azure-AsyncOperation` URL.
 * @example
 * const id = operations.start(() => changePassword(), 0);
 * operations.get(id)?.status; // 'InProgress', later 'Succeeded'
 */
export class AsyncOperations {
  readonly #operations = new Map<string, AsyncOperation>();
  readonly #running = new Set<Promise<void>>();

  /** Starts `work` after `delayMs`; a thrown error marks the operation Failed with its message. */
  start(work: () => Promise<void>, delayMs: number, errorCode = 'InternalServerError'): string {
    const id = randomUUID();
    const operation: AsyncOperation = { name: id, status: 'InProgress', startTime: new Date().toISOString() };
    this.#operations.set(id, operation);
    const run = (async () => {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      try {
        await work();
        operation.status = 'Succeeded';
      } catch (error) {
        operation.status = 'Failed';
        operation.error = {
          code: errorCode,
          message: error instanceof Error ? error.message : String(error),
        };
      } finally {
        operation.endTime = new Date().toISOString();
      }
    })();
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
    return id;
  }

  get(id: string): AsyncOperation | undefined {
    const operation = this.#operations.get(id);
    return operation && { ...operation };
  }

  /** Resolves when every operation started so far has ended, so the emulator closes cleanly. */
  async settle(): Promise<void> {
    await Promise.all([...this.#running]);
  }
}
