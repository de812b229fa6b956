import { glob, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** What `@azure/functions` tells the worker about one function: its name and bindings. */
export interface FunctionMetadata {
  name: string;
  bindings: Record<string, Binding>;
  retryOptions?: unknown;
}

export interface Binding {
  type: string;
  direction: 'in' | 'out';
  [option: string]: unknown;
}

/** The `@azure/functions` programming model, which turns RPC-shaped invocations into handler calls. */
export interface ProgrammingModel {
  getInvocationModel(coreContext: unknown): InvocationModel;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], handler: RegisteredCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface RpcInvocationResponse {
  invocationId: string;
  outputData: { name: string; data: unknown }[];
  returnValue?: unknown;
}

export type RegisteredCallback = (...args: unknown[]) => unknown;

export interface RegisteredFunction {
  metadata: FunctionMetadata;
  callback: RegisteredCallback;
}

export interface LoadedApp {
  functions: Map<string, RegisteredFunction>;
  programmingModel: ProgrammingModel;
  /** Files the `main` glob matched, in load order. */
  files: string[];
  /** Receives the host's log lines for every invocation, whoever triggers it. */
  log?: (line: string) => void;
}

/** The app registered nothing: Azure would report "No job functions found". */
export class NoFunctionsError extends Error {
  override name = 'NoFunctionsError';
}

/**
 * Loads a function app the way the Azure Functions Node worker does: provide the
 * `@azure/functions-core` module, then import every file its package.json `main` glob matches.
 * @example
 * const loaded = await loadApp('/work/main');
 * console.log([...loaded.functions.keys()]);
 */
export async function loadApp(appRoot: string, options: { main?: string } = {}): Promise<LoadedApp> {
  const functions = new Map<string, RegisteredFunction>();
  let programmingModel: ProgrammingModel | undefined;
  provideCoreModule({
    registerFunction(metadata: FunctionMetadata, callback: RegisteredCallback) {
      if (functions.has(metadata.name))
        throw new Error(`A function named "${metadata.name}" is already registered`);
      functions.set(metadata.name, { metadata, callback });
      return { dispose: () => functions.delete(metadata.name) };
    },
    setProgrammingModel(model: ProgrammingModel) {
      programmingModel = model;
    },
    getProgrammingModel: () => programmingModel,
    registerHook: () => ({ dispose() {} }),
    log: () => {},
  });
  const files = await mainFiles(appRoot, options.main);
  for (const file of files) await import(pathToFileURL(file).href);
  if (functions.size === 0 || !programmingModel) {
    throw new NoFunctionsError(
      `No job functions found: no file matched by package.json "main" in ${appRoot} registered a function (matched ${files.length} files; run the build first?)`,
    );
  }
  return { functions, programmingModel, files };
}

/**
 * Every file the package.json `main` glob matches, as absolute paths. Tests may pass another
 * glob (the sources the build compiles to `main`), so that coverage sees the app's own code.
 */
export async function mainFiles(appRoot: string, mainGlob?: string): Promise<string[]> {
  const main = mainGlob ?? (await packageMain(appRoot));
  if (!main) throw new NoFunctionsError(`${appRoot}/package.json has no "main"`);
  const files: string[] = [];
  for await (const file of glob(expandBraces(main), { cwd: appRoot }))
    files.push(path.resolve(appRoot, file));
  return files.sort();
}

export async function packageMain(appRoot: string): Promise<string | undefined> {
  const { main } = JSON.parse(await readFile(path.join(appRoot, 'package.json'), 'utf8')) as {
    main?: string;
  };
  return main;
}

/** node:fs glob has no brace expansion; the worker's glob does, so expand `{a,b}` first. */
function expandBraces(pattern: string): string[] {
  const match = /\{([^{}]*)\}/.exec(pattern);
  if (!match) return [pattern];
  const [whole, alternatives = ''] = match;
  return alternatives.split(',').flatMap((alternative) => expandBraces(pattern.replace(whole, alternative)));
}

const coreModuleName = '@azure/functions-core';

/** The worker injects `@azure/functions-core` as a virtual module; do the same. */
function provideCoreModule(coreApi: object): void {
  const require = createRequire(import.meta.url);
  const Module = require('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = Module._load;
  Module._load = function (request: string, ...rest: unknown[]) {
    return request === coreModuleName ? coreApi : load.call(this, request, ...rest);
  };
}
