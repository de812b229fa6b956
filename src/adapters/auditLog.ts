import type { TokenCredential } from '@azure/identity';
import type { LogsIngestionClient } from '@azure/monitor-ingestion';
import { type Config, loadConfig } from '../config.js';
import { type AuditRecord, parseAuditRecord } from '../core/audit.js';

/** Vigil's audit trail: a Log Analytics custom table fed through the Logs Ingestion API. */
export interface AuditLog {
  /** Writes the records; an empty list does nothing. Resolves once every record is accepted. */
  write(records: AuditRecord[]): Promise<void>;
}

export interface AuditLogOptions {
  /** Where the settings are read from, on first write; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
  /** The function log (e.g. `context.log`), used when no audit endpoint is configured. */
  log?: (line: string) => void;
}

/** Records were refused before upload, or the Logs Ingestion API did not accept them. */
export class AuditLogError extends Error {
  override name = 'AuditLogError';
  /** Ids of the records that did not land; retrying them is safe (ids are deterministic). */
  readonly failedRecordIds: string[];
  constructor(message: string, failedRecordIds: string[], options?: ErrorOptions) {
    super(message, options);
    this.failedRecordIds = failedRecordIds;
  }
}

const clients = new Map<string, Promise<LogsIngestionClient>>();
let credential: Promise<TokenCredential> | undefined;

/**
 * The audit log for the configured `VIGIL_AUDIT_*` settings. The Logs Ingestion client is built on
 * first write (never at import time), with `DefaultAzureCredential`. When no audit endpoint is
 * configured, each record goes to the function log as one JSON line instead, so local runs and
 * tests without an emulator still show what Vigil did.
 * @example
 * await auditLog({ log: context.log }).write([record]);
 */
export function auditLog(options: AuditLogOptions = {}): AuditLog {
  let target: Config['audit'] | null | undefined;
  const log = options.log ?? ((line: string) => console.info(line));
  return {
    async write(records) {
      const valid = validRecords(records);
      if (valid.length === 0) return;
      target ??= loadConfig(options.env).audit ?? null;
      if (target === null) {
        for (const record of valid) log(JSON.stringify({ auditRecord: record }));
        return;
      }
      await upload(target, valid);
    },
  };
}

function validRecords(records: readonly AuditRecord[]): AuditRecord[] {
  return records.map((record, index) => {
    try {
      return parseAuditRecord(record);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new AuditLogError(`records[${index}] was not written: ${reason}`, idsOf(records), {
        cause: error,
      });
    }
  });
}

async function upload(target: NonNullable<Config['audit']>, records: AuditRecord[]): Promise<void> {
  // Log Analytics tables need TimeGenerated; sending it lets the rule's transform stay `source`.
  const rows = records.map((record) => ({ TimeGenerated: record.timestamp, ...record }));
  try {
    const client = await clientFor(target.endpoint);
    await client.upload(target.ruleId, target.stream, rows);
  } catch (error) {
    throw await uploadError(error, records, target.stream);
  }
}

async function uploadError(error: unknown, records: AuditRecord[], stream: string): Promise<AuditLogError> {
  const { isAggregateLogsUploadError } = await import('@azure/monitor-ingestion');
  if (!isAggregateLogsUploadError(error)) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new AuditLogError(
      `Audit upload to ${stream} failed for all ${records.length} records: ${reason}`,
      idsOf(records),
      { cause: error },
    );
  }
  const failed = error.errors.flatMap((failure) => failure.failedLogs.map((row) => String(row.id)));
  const causes = [...new Set(error.errors.map((failure) => describe(failure.cause)))];
  return new AuditLogError(
    `Audit upload to ${stream} failed for ${failed.length} of ${records.length} records: ${causes.join('; ')}`,
    failed,
    { cause: error },
  );
}

function describe(cause: Error): string {
  const status = (cause as { statusCode?: number }).statusCode;
  return `${status === undefined ? '' : `${status} `}${cause.name}: ${cause.message}`;
}

function idsOf(records: readonly AuditRecord[]): string[] {
  return records.map((record) => String((record as { id?: unknown } | undefined)?.id));
}

function clientFor(endpoint: string): Promise<LogsIngestionClient> {
  let client = clients.get(endpoint);
  if (!client) {
    client = createClient(endpoint);
    clients.set(endpoint, client);
    client.catch(() => clients.delete(endpoint));
  }
  return client;
}

async function createClient(endpoint: string): Promise<LogsIngestionClient> {
  const { LogsIngestionClient } = await import('@azure/monitor-ingestion');
  // One credential per process: it caches tokens. Imported lazily to keep cold starts short.
  credential ??= import('@azure/identity').then(({ DefaultAzureCredential }) => new DefaultAzureCredential());
  return new LogsIngestionClient(endpoint, await credential);
}
