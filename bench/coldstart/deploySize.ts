import { execFile } from 'node:child_process';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/** Files under a folder, nested `node_modules` left out (they are packages of their own). */
export interface DiskUsage {
  bytes: number;
  files: number;
}

export interface ProductionPackage extends DiskUsage {
  name: string;
  dir: string;
}

/** A direct production dependency and every package it pulls in (shared ones counted in each). */
export interface DirectDependency extends DiskUsage {
  name: string;
  dirs: Set<string>;
}

export interface DeploySize {
  /** dist/src, host.json and package.json. */
  app: DiskUsage;
  /** The production dependency closure, one entry per installed package folder. */
  packages: ProductionPackage[];
  direct: DirectDependency[];
  total: DiskUsage;
}

/** npm could not describe the production dependency tree. */
export class DeploySizeError extends Error {
  override name = 'DeploySizeError';
}

interface NpmNode {
  path?: string;
  /** Installed but required by nothing: not part of a deployment. */
  extraneous?: boolean;
  dependencies?: Record<string, NpmNode>;
}

/**
 * What a zip deployment of the app would hold: the built code plus the production dependencies
 * `npm ls --omit=dev` lists, measured on disk.
 * @example
 * const size = await deploySize('/work/main');
 * console.log(size.total.bytes, size.direct[0]?.name);
 */
export async function deploySize(appRoot: string): Promise<DeploySize> {
  const tree = await npmTree(appRoot);
  const packages = new Map<string, ProductionPackage>();
  const direct: DirectDependency[] = [];
  for (const [name, node] of Object.entries(tree.dependencies ?? {})) {
    // A package left behind by a dev tool's skipped install script shows up as extraneous.
    if (node.extraneous) continue;
    const dirs = new Set<string>();
    collectDirs(node, dirs);
    for (const dir of dirs) {
      if (!packages.has(dir)) packages.set(dir, { name: packageName(dir), dir, ...(await diskUsage(dir)) });
    }
    direct.push({ name, dirs, ...sum([...dirs].map((dir) => packages.get(dir))) });
  }
  const app = sum(
    await Promise.all(
      ['dist/src', 'host.json', 'package.json'].map((part) => diskUsage(path.join(appRoot, part))),
    ),
  );
  const all = [...packages.values()];
  return {
    app,
    packages: all.sort((a, b) => b.bytes - a.bytes),
    direct: direct.sort((a, b) => b.bytes - a.bytes),
    total: sum([app, ...all]),
  };
}

async function npmTree(appRoot: string): Promise<NpmNode> {
  // npm ls exits non-zero for tree problems (an extraneous package) but still prints the tree.
  const stdout = await promisify(execFile)('npm', ['ls', '--omit=dev', '--all', '--json', '--long'], {
    cwd: appRoot,
    maxBuffer: 64 * 1024 * 1024,
  }).then(
    (result) => result.stdout,
    (error: { stdout?: string }) => error.stdout ?? '',
  );
  try {
    return JSON.parse(stdout) as NpmNode;
  } catch (error) {
    throw new DeploySizeError(`npm ls --omit=dev printed no JSON tree in ${appRoot}`, { cause: error });
  }
}

function collectDirs(node: NpmNode, into: Set<string>): void {
  if (node.path === undefined || into.has(node.path)) return;
  into.add(node.path);
  for (const child of Object.values(node.dependencies ?? {})) collectDirs(child, into);
}

/** The package name from its folder: the part after the last `node_modules/`. */
function packageName(dir: string): string {
  const parts = dir.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  return parts.slice(at + 1).join('/');
}

/**
 * Bytes and files under a file or folder, skipping nested `node_modules` and symbolic links.
 * @example
 * const { bytes } = await diskUsage('dist/src');
 */
export async function diskUsage(target: string): Promise<DiskUsage> {
  const stats = await lstat(target).catch(() => undefined);
  if (!stats || stats.isSymbolicLink()) return { bytes: 0, files: 0 };
  if (stats.isFile()) return { bytes: stats.size, files: 1 };
  if (!stats.isDirectory()) return { bytes: 0, files: 0 };
  const entries = await readdir(target, { withFileTypes: true });
  const parts = await Promise.all(
    entries
      .filter((entry) => entry.name !== 'node_modules')
      .map((entry) => diskUsage(path.join(target, entry.name))),
  );
  return sum(parts);
}

function sum(parts: (DiskUsage | undefined)[]): DiskUsage {
  return parts.reduce<DiskUsage>(
    (total, part) => ({ bytes: total.bytes + (part?.bytes ?? 0), files: total.files + (part?.files ?? 0) }),
    { bytes: 0, files: 0 },
  );
}
