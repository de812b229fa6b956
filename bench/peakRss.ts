import { readFile } from 'node:fs/promises';

/**
 * Peak resident set size of a running process (Linux `VmHWM`), in bytes; undefined where /proc
 * does not say (another OS, or the process is gone).
 * @example
 * const peak = await peakRssOf(child.pid);
 */
export async function peakRssOf(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kib = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  return kib === undefined ? undefined : Number(kib) * 1024;
}
