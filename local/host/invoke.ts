import { randomUUID } from 'node:crypto';
import type { LoadedApp, RegisteredFunction } from './registry.js';

/** Data in the worker protocol's `TypedData` shape: exactly one field is set. */
export type TypedData =
  | { string: string }
  | { json: string }
  | { bytes: Uint8Array }
  | { http: RpcHttpRequest | RpcHttpResponse };

export interface RpcHttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  params: Record<string, string>;
  body?: { bytes: Uint8Array };
}

export interface RpcHttpResponse {
  statusCode?: string;
  headers?: Record<string, string>;
  body?: TypedData;
}

export interface Invocation {
  /** The trigger's value, in worker-protocol form. */
  trigger: TypedData;
  /** Values of input bindings by binding name (the durable client binding, for instance). */
  extraInputs?: Record<string, TypedData>;
  triggerMetadata?: Record<string, TypedData>;
  invocationId?: string;
  log?: (level: string, message: string) => void;
}

/**
 * The values of a function's durable client input bindings (`df.input.durableClient()`), which
 * any trigger may declare: the extension hands each the same binding data.
 * @example
 * invoke(app, fn, { trigger, extraInputs: durableClientInputs(fn, () => api.clientBindingData()) });
 */
export function durableClientInputs(
  fn: RegisteredFunction,
  bindingData: () => unknown,
): Record<string, TypedData> {
  const inputs: Record<string, TypedData> = {};
  for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
    const isClient = binding.type === 'durableClient' || binding.type === 'orchestrationClient';
    if (binding.direction === 'in' && isClient) inputs[name] = { string: JSON.stringify(bindingData()) };
  }
  return inputs;
}

export interface InvocationResult {
  returnValue?: TypedData;
  outputData: { name: string; data: TypedData }[];
}

/**
 * Invokes a registered function through `@azure/functions`' own invocation model, as the
 * worker does: the handler receives exactly the objects it would receive in Azure.
 * @example
 * const result = await invoke(app, app.functions.get('health')!, { trigger: { http: request } });
 */
export async function invoke(
  app: LoadedApp,
  fn: RegisteredFunction,
  invocation: Invocation,
): Promise<InvocationResult> {
  const name = fn.metadata.name;
  const invocationId = invocation.invocationId ?? randomUUID();
  const hostLog = app.log ?? (() => {});
  const started = performance.now();
  const executed = (status: string) =>
    hostLog(
      `Executed 'Functions.${name}' (${status}, Id=${invocationId}, Duration=${Math.round(performance.now() - started)}ms)`,
    );
  hostLog(`Executing 'Functions.${name}' (Id=${invocationId})`);
  try {
    const result = await invokeThroughModel(app, fn, {
      ...invocation,
      invocationId,
      log: invocation.log ?? ((level, message) => hostLog(`[${name}] ${level}: ${message}`)),
    });
    executed('Succeeded');
    return result;
  } catch (error) {
    executed('Failed');
    throw error;
  }
}

async function invokeThroughModel(
  app: LoadedApp,
  fn: RegisteredFunction,
  invocation: Invocation & { invocationId: string },
): Promise<InvocationResult> {
  const bindings = fn.metadata.bindings;
  const triggerName = Object.keys(bindings).find((name) => /trigger$/i.test(bindings[name]?.type ?? ''));
  if (!triggerName) throw new Error(`Function ${fn.metadata.name} has no trigger binding`);
  const inputData = [
    { name: triggerName, data: invocation.trigger },
    ...Object.entries(invocation.extraInputs ?? {}).map(([name, data]) => ({ name, data })),
  ];
  const log = invocation.log ?? (() => {});
  const model = app.programmingModel.getInvocationModel({
    invocationId: invocation.invocationId,
    metadata: fn.metadata,
    request: { inputData, triggerMetadata: invocation.triggerMetadata ?? {} },
    state: undefined,
    log: (level: string, _category: string, message: string) => log(level, message),
  });
  const { context, inputs } = await model.getArguments();
  const result = await model.invokeFunction(context, inputs, fn.callback);
  return (await model.getResponse(context, result)) as unknown as InvocationResult;
}

/** Decodes a TypedData value as the app would see it (JSON parsed when it parses). */
export function fromTypedData(data: TypedData | undefined): unknown {
  if (!data) return undefined;
  if ('json' in data) return JSON.parse(data.json);
  if ('string' in data) {
    try {
      return JSON.parse(data.string);
    } catch {
      return data.string;
    }
  }
  if ('bytes' in data) return Buffer.from(data.bytes);
  return data.http;
}

/** Encodes a value for a trigger or input binding. */
export function toTypedData(value: unknown): TypedData {
  return typeof value === 'string' ? { string: value } : { json: JSON.stringify(value) };
}
