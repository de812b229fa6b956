import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../http.js';
import { KeyVaultEmulatorError } from './errors.js';
import { type EmulatorData, parseEmulatorData } from './model.js';

/**
 * The emulator's data as one JSON file, written atomically (temp file + rename). Saves requested
 * while a write is running share the next write, so a burst of requests costs two writes, not N.
 * @example
 * const file = new StateFile('/tmp/kv/secrets.json');
 * const data = await file.load();
 * await file.save(data); // resolves once the data is on disk
 */
export class StateFile {
  #writing: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(readonly filePath: string) {}

  async load(): Promise<EmulatorData> {
    let text: string;
    try {
      text = await readFile(this.filePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { format: 1, vaults: {} };
      throw new KeyVaultEmulatorError(`cannot read ${this.filePath}`, { cause: error });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new KeyVaultEmulatorError(`${this.filePath} is not JSON`, { cause: error });
    }
    const parsed = parseEmulatorData(json);
    if (typeof parsed === 'string') {
      throw new KeyVaultEmulatorError(`${this.filePath} is not Key Vault emulator data: ${parsed}`);
    }
    return parsed;
  }

  /** Resolves once a write that started after this call has finished. */
  save(data: EmulatorData): Promise<void> {
    if (!this.#writing) {
      this.#writing = this.#write(data);
      return this.#writing;
    }
    // A write is running with older data: queue one more that every caller until it starts shares.
    this.#next ??= this.#writing.then(
      () => this.#startQueued(data),
      () => this.#startQueued(data),
    );
    return this.#next;
  }

  #startQueued(data: EmulatorData): Promise<void> {
    this.#next = undefined;
    this.#writing = this.#write(data);
    return this.#writing;
  }

  async #write(data: EmulatorData): Promise<void> {
    try {
      await mkdir(path.dirname(this.filePath), { recursive: true });
      await writeFileAtomic(this.filePath, JSON.stringify(data));
    } finally {
      if (!this.#next) this.#writing = undefined;
    }
  }
}
