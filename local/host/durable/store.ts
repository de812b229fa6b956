import { odata, RestError, TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { DurableClientError, DurableStoreError } from './errors.js';
import type { HistoryEvent, ParentInstance } from './history.js';
import { joinText, splitText } from './largeText.js';

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated' | 'Canceled';

export const terminalStatuses: ReadonlySet<string> = new Set([
  'Completed',
  'Failed',
  'Terminated',
  'Canceled',
]);

/** One row of the Instances table: what `getStatus` reports, plus the commit point of the history. */
export interface InstanceRecord {
  instanceId: string;
  name: string;
  executionId: string;
  runtimeStatus: RuntimeStatus;
  createdTime: Date;
  lastUpdatedTime: Date;
  /** JSON texts. */
  input?: string;
  output?: string;
  customStatus?: string;
  /** History rows beyond this count were written by an episode that never committed: ignored. */
  historyCount: number;
  parent?: ParentInstance;
  etag?: string;
}

/** An inbound message for an orchestration instance (the provider's control-queue message). */
export interface InstanceMessage {
  instanceId: string;
  /** Deterministic where a retry could send it twice, so a resend overwrites instead of duplicating. */
  messageId: string;
  kind: 'start' | 'event' | 'terminate';
  /** Only for this execution; messages for an older execution are dropped. */
  executionId?: string;
  event?: HistoryEvent;
  sequence: number;
  /** Follow-on rows holding the rest of a large event. */
  parts?: number;
}

export interface HistoryRow {
  event: HistoryEvent;
  /** The message the event came from, so a message re-read after a crash is not applied twice. */
  messageId?: string;
}

const textFields = ['input', 'output', 'customStatus'] as const;
const inlineChunks = 4;
const historyKey = (executionId: string, index: number) => `${executionId}.${String(index).padStart(8, '0')}`;

/**
 * A task hub in Table storage, laid out like the Azure Storage provider: `{hub}Instances`
 * (one row per instance) and `{hub}History` (one row per history event, partitioned by
 * instance), plus `{hub}Messages` in place of its control queues.
 * @example
 * const store = await TaskHubStore.open(connectionString, 'VigilHub');
 */
export class TaskHubStore {
  private constructor(
    readonly hubName: string,
    private readonly instances: TableClient,
    private readonly history: TableClient,
    private readonly messages: TableClient,
  ) {}

  static async open(connectionString: string, hubName: string): Promise<TaskHubStore> {
    if (!/^[A-Za-z][A-Za-z0-9]{2,49}$/.test(hubName))
      throw new DurableStoreError(
        `hubName "${hubName}" must be 3–50 letters or digits starting with a letter (it prefixes table names)`,
      );
    const client = (suffix: string) =>
      TableClient.fromConnectionString(connectionString, `${hubName}${suffix}`, {
        allowInsecureConnection: true,
      });
    const store = new TaskHubStore(hubName, client('Instances'), client('History'), client('Messages'));
    await Promise.all([
      store.instances.createTable(),
      store.history.createTable(),
      store.messages.createTable(),
    ]);
    return store;
  }

  async getInstance(instanceId: string): Promise<InstanceRecord | undefined> {
    try {
      const entity = await this.instances.getEntity(instanceId, '');
      return await this.#toInstance(entity);
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  async listInstances(): Promise<InstanceRecord[]> {
    const records: InstanceRecord[] = [];
    for await (const entity of this.instances.listEntities()) records.push(await this.#toInstance(entity));
    return records;
  }

  /**
   * Creates the instance row, or replaces a finished one. Atomic per instance id: the insert and
   * the ETag-guarded replace both fail if another writer got there first, so two concurrent
   * starts of one id cannot both win.
   */
  async createInstance(
    record: InstanceRecord,
    replaceable: (existing: InstanceRecord) => boolean,
  ): Promise<void> {
    const entity = await this.#toEntity(record);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const existing = await this.getInstance(record.instanceId);
      try {
        if (!existing) await this.instances.createEntity(entity);
        else if (replaceable(existing))
          await this.instances.updateEntity(entity, 'Replace', { etag: existing.etag ?? '*' });
        else
          throw new DurableClientError(
            `An instance with ID '${record.instanceId}' already exists and is ${existing.runtimeStatus}.`,
            409,
          );
        return;
      } catch (error) {
        if (!(error instanceof RestError) || (error.statusCode !== 409 && error.statusCode !== 412))
          throw error;
      }
    }
    throw new DurableClientError(
      `Instance '${record.instanceId}' is being started concurrently; try again.`,
      409,
    );
  }

  /**
   * Writes the episode's new history rows, then the instance row guarded by its ETag: that row
   * (with its history count) is the commit point, so a crash in between leaves nothing visible.
   */
  async commit(record: InstanceRecord, newRows: HistoryRow[], firstIndex: number): Promise<string> {
    await this.#writeHistory(record.instanceId, record.executionId, newRows, firstIndex);
    const entity = await this.#toEntity(record);
    try {
      const response = record.etag
        ? await this.instances.updateEntity(entity, 'Replace', { etag: record.etag })
        : await this.instances.upsertEntity(entity, 'Replace');
      return response.etag ?? '';
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 412)
        throw new DurableStoreError(`Instance '${record.instanceId}' was changed by another writer`, {
          cause: error,
        });
      throw error;
    }
  }

  async loadHistory(record: InstanceRecord): Promise<HistoryRow[]> {
    const prefix = `${record.executionId}.`;
    const filter = odata`PartitionKey eq ${record.instanceId} and RowKey ge ${prefix} and RowKey lt ${`${record.executionId}/`}`;
    const rows: Record<string, unknown>[][] = [];
    for await (const entity of this.history.listEntities({ queryOptions: { filter } })) {
      // Follow-on rows of a large event sort right after it: `<key>+1`, `<key>+2`…
      if (String(entity.rowKey).includes('+')) rows.at(-1)?.push(entity);
      else rows.push([entity]);
    }
    return rows.slice(0, record.historyCount).map((parts) => {
      const first = parts[0] ?? {};
      const row: HistoryRow = { event: JSON.parse(joinText('Event', parts)) as HistoryEvent };
      if (typeof first.MessageId === 'string') row.messageId = first.MessageId;
      return row;
    });
  }

  /** Deletes history rows of every execution but `keepExecutionId` (all of them if omitted). */
  async deleteHistory(instanceId: string, keepExecutionId?: string): Promise<number> {
    const filter = odata`PartitionKey eq ${instanceId}`;
    const doomed: TransactionAction[] = [];
    for await (const entity of this.history.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) {
      const rowKey = entity.rowKey ?? '';
      if (
        keepExecutionId &&
        (rowKey.startsWith(`${keepExecutionId}.`) || rowKey.includes(`~${keepExecutionId}.`))
      )
        continue;
      doomed.push(['delete', { partitionKey: instanceId, rowKey }]);
    }
    await this.#submit(this.history, doomed);
    return doomed.length;
  }

  async deleteInstance(instanceId: string): Promise<void> {
    await Promise.all([this.deleteHistory(instanceId), this.deleteMessages(instanceId)]);
    await this.instances.deleteEntity(instanceId, '').catch((error: unknown) => {
      if (!(error instanceof RestError && error.statusCode === 404)) throw error;
    });
  }

  /** Writes the message; an event too large for one entity goes first into follow-on rows. */
  async putMessage(message: InstanceMessage): Promise<void> {
    const entity: TableEntity<Record<string, unknown>> = {
      partitionKey: message.instanceId,
      rowKey: message.messageId,
      Kind: message.kind,
      Sequence: message.sequence,
      ...(message.executionId ? { ExecutionId: message.executionId } : {}),
    };
    if (message.event) {
      const [inline = {}, ...rest] = splitText('Event', JSON.stringify(message.event));
      const parts: TransactionAction[] = rest.map((group, index) => [
        'upsert',
        {
          partitionKey: message.instanceId,
          rowKey: `${message.messageId}+${index + 1}`,
          Part: index + 1,
          ...group,
        },
        'Replace',
      ]);
      await this.#submit(this.messages, parts);
      Object.assign(entity, inline, { Parts: rest.length });
    }
    await this.messages.upsertEntity(entity, 'Replace');
  }

  /** The instance's messages in arrival order. */
  async listMessages(instanceId: string): Promise<InstanceMessage[]> {
    const filter = odata`PartitionKey eq ${instanceId}`;
    const mains: Record<string, unknown>[] = [];
    const parts = new Map<string, Record<string, unknown>[]>();
    for await (const entity of this.messages.listEntities({ queryOptions: { filter } })) {
      if (!String(entity.rowKey).includes('+')) {
        mains.push(entity);
        continue;
      }
      const base = String(entity.rowKey).slice(0, String(entity.rowKey).lastIndexOf('+'));
      parts.set(base, [...(parts.get(base) ?? []), entity]);
    }
    const messages = mains.map((main) => {
      const own = (parts.get(String(main.rowKey)) ?? []).sort((a, b) => partNumber(a) - partNumber(b));
      return toMessage(main, own);
    });
    return messages.sort((a, b) => a.sequence - b.sequence);
  }

  /** Ids of instances with messages waiting: what a starting engine must process. */
  async instancesWithMessages(): Promise<Set<string>> {
    const ids = new Set<string>();
    for await (const entity of this.messages.listEntities({ queryOptions: { select: ['PartitionKey'] } }))
      ids.add(entity.partitionKey ?? '');
    return ids;
  }

  /** Deletes the message, its main row first so a half-deleted message is never read. */
  async deleteMessage(message: InstanceMessage): Promise<void> {
    const ignoreMissing = (error: unknown) => {
      if (!(error instanceof RestError && error.statusCode === 404)) throw error;
    };
    await this.messages.deleteEntity(message.instanceId, message.messageId).catch(ignoreMissing);
    for (let part = 1; part <= (message.parts ?? 0); part += 1)
      await this.messages
        .deleteEntity(message.instanceId, `${message.messageId}+${part}`)
        .catch(ignoreMissing);
  }

  async deleteMessages(instanceId: string): Promise<void> {
    const filter = odata`PartitionKey eq ${instanceId}`;
    const doomed: TransactionAction[] = [];
    for await (const entity of this.messages.listEntities({ queryOptions: { filter, select: ['RowKey'] } }))
      doomed.push(['delete', { partitionKey: instanceId, rowKey: entity.rowKey ?? '' }]);
    await this.#submit(this.messages, doomed);
  }

  async #writeHistory(instanceId: string, executionId: string, rows: HistoryRow[], firstIndex: number) {
    const actions: TransactionAction[] = [];
    rows.forEach((row, offset) => {
      const rowKey = historyKey(executionId, firstIndex + offset);
      const [first = {}, ...rest] = splitText('Event', JSON.stringify(row.event));
      const main = { partitionKey: instanceId, rowKey, EventType: row.event.EventType, ...first };
      actions.push(['upsert', row.messageId ? { ...main, MessageId: row.messageId } : main, 'Replace']);
      rest.forEach((part, index) => {
        actions.push([
          'upsert',
          { partitionKey: instanceId, rowKey: `${rowKey}+${index + 1}`, Part: index + 1, ...part },
        ]);
      });
    });
    await this.#submit(this.history, actions);
  }

  /** Entity group transactions take at most 100 operations; the commit point makes chunks safe. */
  async #submit(table: TableClient, actions: TransactionAction[]): Promise<void> {
    for (let at = 0; at < actions.length; at += 100)
      await table.submitTransaction(actions.slice(at, at + 100));
  }

  async #toEntity(record: InstanceRecord): Promise<TableEntity<Record<string, unknown>>> {
    const entity: TableEntity<Record<string, unknown>> = {
      partitionKey: record.instanceId,
      rowKey: '',
      Name: record.name,
      ExecutionId: record.executionId,
      RuntimeStatus: record.runtimeStatus,
      CreatedTime: record.createdTime,
      LastUpdatedTime: record.lastUpdatedTime,
      HistoryCount: record.historyCount,
      ...(record.parent ? { Parent: JSON.stringify(record.parent) } : {}),
    };
    for (const field of textFields) {
      const text = record[field];
      if (text === undefined) continue;
      const groups = splitText(field, text, inlineChunks);
      if (groups.length === 1) Object.assign(entity, groups[0]);
      else entity[`${field}Rows`] = await this.#spill(record, field, text);
    }
    return entity;
  }

  /** A payload too large for the instance row goes to rows in the instance's History partition. */
  async #spill(record: InstanceRecord, field: string, text: string): Promise<number> {
    const groups = splitText(field, text);
    const actions: TransactionAction[] = groups.map((group, index) => [
      'upsert',
      { partitionKey: record.instanceId, rowKey: `~${record.executionId}.${field}.${index}`, ...group },
      'Replace',
    ]);
    await this.#submit(this.history, actions);
    return groups.length;
  }

  async #toInstance(entity: Record<string, unknown>): Promise<InstanceRecord> {
    const record: InstanceRecord = {
      instanceId: String(entity.partitionKey),
      name: String(entity.Name),
      executionId: String(entity.ExecutionId),
      runtimeStatus: String(entity.RuntimeStatus) as RuntimeStatus,
      createdTime: new Date(String(entity.CreatedTime)),
      lastUpdatedTime: new Date(String(entity.LastUpdatedTime)),
      historyCount: Number(entity.HistoryCount ?? 0),
    };
    if (typeof entity.etag === 'string') record.etag = entity.etag;
    if (typeof entity.Parent === 'string') record.parent = JSON.parse(entity.Parent) as ParentInstance;
    for (const field of textFields) {
      const spilled = entity[`${field}Rows`];
      if (typeof spilled === 'number') record[field] = await this.#unspill(record, field, spilled);
      else if (typeof entity[`${field}0`] === 'string') record[field] = joinText(field, [entity]);
    }
    return record;
  }

  async #unspill(record: InstanceRecord, field: string, count: number): Promise<string> {
    const parts: Record<string, unknown>[] = [];
    for (let index = 0; index < count; index += 1)
      parts.push(await this.history.getEntity(record.instanceId, `~${record.executionId}.${field}.${index}`));
    return joinText(field, parts);
  }
}

const partNumber = (entity: Record<string, unknown>) => Number(String(entity.rowKey).split('+').at(-1));

function toMessage(entity: Record<string, unknown>, parts: Record<string, unknown>[]): InstanceMessage {
  const message: InstanceMessage = {
    instanceId: String(entity.partitionKey),
    messageId: String(entity.rowKey),
    kind: String(entity.Kind) as InstanceMessage['kind'],
    sequence: Number(entity.Sequence ?? 0),
  };
  if (typeof entity.ExecutionId === 'string') message.executionId = entity.ExecutionId;
  if (typeof entity.Event0 === 'string')
    message.event = JSON.parse(joinText('Event', [entity, ...parts])) as HistoryEvent;
  if (typeof entity.Parts === 'number' && entity.Parts > 0) message.parts = entity.Parts;
  return message;
}
