import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadApp, mainFiles } from '../../../local/host/registry.js';

const root = path.resolve(import.meta.dirname, '../../..');
// Any call of a registration method on `app` (@azure/functions) or `df.app` (durable-functions),
// except `app.setup`, which configures and registers nothing.
const registers = /\b(?:df\.)?app\.(?!setup\b)[a-zA-Z]+(?:\.[a-zA-Z]+)?\(/;

async function builtFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => path.join(e.parentPath, e.name));
}

describe('registration through package.json main', () => {
  it('covers every built file that registers a function', async () => {
    const matched = new Set(await mainFiles(root));
    const registering: string[] = [];
    for (const file of await builtFiles(path.join(root, 'dist/src'))) {
      if (registers.test(await readFile(file, 'utf8'))) registering.push(file);
    }
    expect(registering.length).toBeGreaterThan(0);
    expect(registering.filter((file) => !matched.has(file))).toEqual([]);
  });

  it('registers the functions through the captured @azure/functions-core', async () => {
    const loaded = await loadApp(root);
    expect(loaded.functions.get('health')?.metadata.bindings).toMatchObject({
      $return: { type: 'http', direction: 'out' },
    });
  });
});
