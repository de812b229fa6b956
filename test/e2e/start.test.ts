import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { appRoot } from '../support/stack.js';

const dataDir = await mkdtemp(path.join(tmpdir(), 'vigil-start-'));
let stackGroup: number | undefined;
afterAll(async () => {
  // Should the test fail half way, leave nothing running: kill the stack's whole process group.
  if (stackGroup) {
    try {
      process.kill(-stackGroup, 'SIGKILL');
    } catch {
      // Already gone, as it should be.
    }
  }
  await rm(dataDir, { recursive: true, force: true });
});

/** Processes whose command line mentions the stack's data folder: Azurite, PostgreSQL, the host. */
async function processesUsing(folder: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ps', ['-eo', 'pid,args']);
  return stdout.split('\n').filter((line) => line.includes(folder) && !line.includes(' ps '));
}

describe('npm start', () => {
  it('answers /api/health with 200 within 60 seconds, and Ctrl-C leaves no process behind', async () => {
    const started = Date.now();
    const stack = spawn(process.execPath, [path.join(appRoot, 'dist/local/start.js')], {
      cwd: appRoot,
      env: { ...process.env, VIGIL_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so the test can press Ctrl-C: SIGINT to the whole group, as a terminal does.
      detached: true,
    });
    let output = '';
    stack.stdout.on('data', (chunk) => {
      output += chunk;
    });
    stack.stderr.on('data', (chunk) => {
      output += chunk;
    });
    stackGroup = stack.pid;
    const exited = once(stack, 'exit');

    await expect.poll(() => output, { timeout: 60_000, interval: 200 }).toContain('Vigil is running');
    const health = await fetch('http://127.0.0.1:7071/api/health');
    expect(health.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(await processesUsing(dataDir)).not.toEqual([]);

    process.kill(-(stack.pid ?? 0), 'SIGINT');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(await processesUsing(dataDir)).toEqual([]);
    await expect(fetch('http://127.0.0.1:7071/api/health')).rejects.toThrow();
  }, 120_000);
});
