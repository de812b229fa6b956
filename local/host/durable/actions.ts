import { DurableProtocolError } from './errors.js';

/** durable-functions' `ActionType` numbers; the contract test pins them. */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

/** RetryOptions as durable-functions serializes them; absent fields take DurableTask's defaults. */
export interface RetryPolicy {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

/** An action from the orchestrator's result, in the JSON shape the extension's shim reads. */
export type Action =
  | { kind: 'activity'; name: string; input: unknown; retry?: RetryPolicy }
  | { kind: 'subOrchestration'; name: string; input: unknown; instanceId?: string; retry?: RetryPolicy }
  | { kind: 'timer'; fireAt: Date }
  | { kind: 'externalEvent'; name: string }
  | { kind: 'continueAsNew'; input: unknown; preserveUnprocessedEvents: boolean }
  | { kind: 'whenAll' | 'whenAny'; children: Action[] };

type Raw = Record<string, unknown>;

const isRecord = (value: unknown): value is Raw => typeof value === 'object' && value !== null;

/**
 * Turns the orchestrator's `actions` (schema V2+: one list holding every yielded action in
 * order) into typed actions, rejecting what the local host does not implement.
 * @example
 * parseActions([[{ actionType: 0, functionName: 'hello', input: '"x"' }]]); // [{ kind: 'activity', … }]
 */
export function parseActions(actions: unknown): Action[] {
  if (!Array.isArray(actions)) throw new DurableProtocolError('actions: expected an array of arrays');
  return actions.flatMap((list: unknown, index) => {
    if (!Array.isArray(list)) throw new DurableProtocolError(`actions[${index}]: expected an array`);
    return list.map((action, position) => parseAction(action, `actions[${index}][${position}]`));
  });
}

function parseAction(raw: unknown, where: string): Action {
  if (!isRecord(raw)) throw new DurableProtocolError(`${where}: expected an object`);
  switch (raw.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
      return {
        kind: 'activity',
        name: requireString(raw.functionName, `${where}.functionName`),
        input: decodeActionInput(raw.input),
        ...retryField(raw, where),
      };
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return {
        kind: 'subOrchestration',
        name: requireString(raw.functionName, `${where}.functionName`),
        input: raw.input,
        ...(typeof raw.instanceId === 'string' && raw.instanceId !== ''
          ? { instanceId: raw.instanceId }
          : {}),
        ...retryField(raw, where),
      };
    case ActionType.CreateTimer:
      return {
        kind: 'timer',
        fireAt: requireDate(raw.fireAt, `${where}.fireAt`),
      };
    case ActionType.WaitForExternalEvent:
      return {
        kind: 'externalEvent',
        name: requireString(raw.externalEventName, `${where}.externalEventName`),
      };
    case ActionType.ContinueAsNew:
      return {
        kind: 'continueAsNew',
        input: decodeActionInput(raw.input),
        preserveUnprocessedEvents: raw.preserveUnprocessedEvents === true,
      };
    case ActionType.WhenAll:
    case ActionType.WhenAny:
      return {
        kind: raw.actionType === ActionType.WhenAll ? 'whenAll' : 'whenAny',
        children: compoundChildren(raw.compoundActions, where),
      };
    default:
      throw new DurableProtocolError(
        `${where}.actionType ${String(raw.actionType)} (${actionTypeName(raw.actionType)}) is not supported by the local Durable host`,
      );
  }
}

function compoundChildren(children: unknown, where: string): Action[] {
  if (!Array.isArray(children)) throw new DurableProtocolError(`${where}.compoundActions: expected an array`);
  return children.map((child, index) => parseAction(child, `${where}.compoundActions[${index}]`));
}

function retryField(raw: Raw, where: string): { retry?: RetryPolicy } {
  if (
    raw.actionType !== ActionType.CallActivityWithRetry &&
    raw.actionType !== ActionType.CallSubOrchestratorWithRetry
  )
    return {};
  const options = raw.retryOptions;
  if (!isRecord(options)) throw new DurableProtocolError(`${where}.retryOptions: expected an object`);
  const number = (key: string, optional: boolean) => {
    const value = options[key];
    if (value === undefined && optional) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new DurableProtocolError(`${where}.retryOptions.${key}: expected a finite number`);
    return value;
  };
  const retry: RetryPolicy = {
    firstRetryIntervalInMilliseconds: number('firstRetryIntervalInMilliseconds', false) ?? 0,
    maxNumberOfAttempts: number('maxNumberOfAttempts', false) ?? 0,
  };
  const backoffCoefficient = number('backoffCoefficient', true);
  const maxRetryIntervalInMilliseconds = number('maxRetryIntervalInMilliseconds', true);
  const retryTimeoutInMilliseconds = number('retryTimeoutInMilliseconds', true);
  if (backoffCoefficient !== undefined) retry.backoffCoefficient = backoffCoefficient;
  if (maxRetryIntervalInMilliseconds !== undefined)
    retry.maxRetryIntervalInMilliseconds = maxRetryIntervalInMilliseconds;
  if (retryTimeoutInMilliseconds !== undefined) retry.retryTimeoutInMilliseconds = retryTimeoutInMilliseconds;
  return { retry };
}

/**
 * durable-functions JSON-encodes string inputs of activities and continueAsNew
 * (`Utils.processInput`), and the extension decodes them again; do the same.
 */
function decodeActionInput(input: unknown): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

function requireString(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new DurableProtocolError(`${where}: expected a non-empty string`);
  return value;
}

function requireDate(value: unknown, where: string): Date {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new DurableProtocolError(`${where}: expected an ISO date`);
  return date;
}

function actionTypeName(value: unknown): string {
  return Object.entries(ActionType).find(([, number]) => number === value)?.[0] ?? 'unknown';
}
