import { appendFile, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LogsIngestionEmulatorError } from './errors.js';

export interface StoredRecord {
  ruleId: string;
  stream: string;
  record: Record<string, unknown>;
}

/**
 * Ingested records per data collection rule and stream, in memory for queries and appended as
 * JSON lines to `{dataDir}/{ruleId}/{stream}.jsonl` so a restart keeps them.
 * @example
 * const store = await RecordStore.open('/tmp/logs');
 * await store.append('dcr-1', 'Custom-VigilAudit_CL', [{ action: 'update' }]);
 * store.records('Custom-VigilAudit_CL');
 */
export class RecordStore {
  #records: StoredRecord[] = [];
  /** One append at a time per file, so concurrent uploads never interleave inside a line. */
  #appending = new Map<string, Promise<void>>();

  private constructor(readonly dataDir: string) {}

  static async open(dataDir: string): Promise<RecordStore> {
    const store = new RecordStore(dataDir);
    await store.#load();
    return store;
  }

  async append(ruleId: string, stream: string, records: Record<string, unknown>[]): Promise<void> {
    const file = path.join(this.dataDir, ruleId, `${stream}.jsonl`);
    const lines = records.map((record) => `${JSON.stringify(record)}\n`).join('');
    const previous = this.#appending.get(file) ?? Promise.resolve();
    const next = previous.then(async () => {
      await mkdir(path.dirname(file), { recursive: true });
      await appendFile(file, lines);
    });
    this.#appending.set(
      file,
      next.catch(() => undefined),
    );
    await next;
    for (const record of records) this.#records.push({ ruleId, stream, record });
  }

  /** Copies of the records of `stream` (from every rule unless `ruleId` is given), oldest first. */
  records(stream: string, ruleId?: string): Record<string, unknown>[] {
    return this.#records
      .filter((entry) => entry.stream === stream && (ruleId === undefined || entry.ruleId === ruleId))
      .map((entry) => structuredClone(entry.record));
  }

  async flushed(): Promise<void> {
    await Promise.all(this.#appending.values());
  }

  async #load(): Promise<void> {
    const rules = await readdir(this.dataDir, { withFileTypes: true }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [];
        throw new LogsIngestionEmulatorError(`cannot read ${this.dataDir}`, { cause: error });
      },
    );
    for (const rule of rules.filter((entry) => entry.isDirectory())) {
      const files = await readdir(path.join(this.dataDir, rule.name));
      for (const file of files.filter((name) => name.endsWith('.jsonl'))) {
        await this.#loadFile(rule.name, file.slice(0, -'.jsonl'.length));
      }
    }
  }

  async #loadFile(ruleId: string, stream: string): Promise<void> {
    const file = path.join(this.dataDir, ruleId, `${stream}.jsonl`);
    const lines = (await readFile(file, 'utf8')).split('\n');
    // Text after the last newline is an append cut short by a crash: that upload was never acknowledged.
    lines.pop();
    lines.forEach((line, index) => {
      if (line.trim() === '') return;
      try {
        this.#records.push({ ruleId, stream, record: JSON.parse(line) as Record<string, unknown> });
      } catch (error) {
        throw new LogsIngestionEmulatorError(`${file} line ${index + 1} is not JSON`, { cause: error });
      }
    });
  }
}
