import type { TableClient, TableEntity } from '@azure/data-tables';
import { loadConfig } from '../config.js';

/** Vigil's own records in Table storage: one table per kind, rows addressed by partition and row key. */
export interface StateStore {
  /** Inserts or replaces the row: writing the same record twice is harmless. */
  upsert(table: string, partitionKey: string, rowKey: string, record: Record<string, unknown>): Promise<void>;
  get(table: string, partitionKey: string, rowKey: string): Promise<Record<string, unknown> | undefined>;
}

const clients = new Map<string, Promise<TableClient>>();

/**
 * The state store for the configured `VIGIL_STATE_STORAGE`; clients are built on first use.
 * @example
 * await stateStore().upsert('probes', 'probe', id, { status: 'ok' });
 */
export function stateStore(connection = loadConfig().stateStorage): StateStore {
  const table = (name: string) => {
    const key = `${connection}\n${name}`;
    let client = clients.get(key);
    if (!client) {
      client = createTable(connection, name);
      clients.set(key, client);
      client.catch(() => clients.delete(key));
    }
    return client;
  };
  return {
    async upsert(name, partitionKey, rowKey, record) {
      const entity: TableEntity = { partitionKey, rowKey, json: JSON.stringify(record) };
      await (await table(name)).upsertEntity(entity, 'Replace');
    },
    async get(name, partitionKey, rowKey) {
      try {
        const entity = await (await table(name)).getEntity<{ json: string }>(partitionKey, rowKey);
        return JSON.parse(entity.json) as Record<string, unknown>;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return undefined;
        throw error;
      }
    },
  };
}

async function createTable(connection: string, name: string): Promise<TableClient> {
  // Imported on first use, not at load time, to keep the SDK off every function's cold start.
  const { TableClient } = await import('@azure/data-tables');
  const client = connection.startsWith('https://')
    ? new TableClient(connection, name, new (await import('@azure/identity')).DefaultAzureCredential())
    : TableClient.fromConnectionString(connection, name, { allowInsecureConnection: true });
  await client.createTable();
  return client;
}
