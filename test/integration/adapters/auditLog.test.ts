import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isAggregateLogsUploadError } from '@azure/monitor-ingestion';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '../../../local/clock.js';
import { type IdentityEndpoint, startIdentityEndpoint } from '../../../local/emulators/identity/index.js';
import {
  type LogsIngestionEmulator,
  startLogsIngestionEmulator,
} from '../../../local/emulators/logs/index.js';
import { ensureLocalCertificates, trustLocalCa } from '../../../local/tls.js';
import { AuditLogError, auditLog } from '../../../src/adapters/auditLog.js';
import { ConfigError } from '../../../src/config.js';
import { type AuditInput, type AuditRecord, createAuditRecord } from '../../../src/core/audit.js';

const ruleId = 'dcr-0123456789abcdef0123456789abcdef';
const stream = 'Custom-VigilAudit_CL';
const baseEnv = { VIGIL_TASK_HUB: 'vigil', VIGIL_STATE_STORAGE: 'UseDevelopmentStorage=true' };

function record(step: string, status: 'success' | 'failure' = 'success'): AuditRecord {
  const input: AuditInput = {
    actor: '00000000-0000-4000-8000-00000000a11e',
    action: 'update',
    resource_type: 'Microsoft.KeyVault/vaults/secrets',
    resource_id: '/vaults/kv-1/secrets/db-app',
    request_id: 'rotate-secret:kv-1:db-app',
    status,
    metadata: { step, strategy: 'postgres-role', version: 'v2' },
  };
  return createAuditRecord(input, { id: `rotate-secret:kv-1:db-app:${step}`, now: new Date() });
}

describe('auditLog through the Logs Ingestion emulator', () => {
  let dir: string;
  let logs: LogsIngestionEmulator;
  let identity: IdentityEndpoint;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-audit-'));
    const certificates = await ensureLocalCertificates(path.join(dir, 'tls'));
    trustLocalCa(certificates.caPem);
    logs = await startLogsIngestionEmulator({ dataDir: path.join(dir, 'logs'), tls: certificates });
    // DefaultAzureCredential finds the managed identity endpoint, as it does on App Service.
    identity = await startIdentityEndpoint({ clock: new Clock() });
    Object.assign(process.env, identity.env);
    env = {
      ...baseEnv,
      VIGIL_AUDIT_ENDPOINT: logs.url,
      VIGIL_AUDIT_RULE_ID: ruleId,
      VIGIL_AUDIT_STREAM: stream,
    };
  });
  afterAll(async () => {
    await logs.close();
    await identity.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lands every record in the stream with TimeGenerated, using the managed identity', async () => {
    const records = [record('create'), record('set'), record('test')];

    await auditLog({ env }).write(records);

    const landed = logs
      .records(stream, ruleId)
      .filter((row) => row.request_id === 'rotate-secret:kv-1:db-app');
    expect(landed).toEqual(records.map((r) => ({ TimeGenerated: r.timestamp, ...r })));
    expect(identity.issued().map((token) => token.resource)).toContain('https://monitor.azure.com');
  });

  it('defaults the stream to Custom-VigilAudit_CL', async () => {
    const { VIGIL_AUDIT_STREAM: _omitted, ...withoutStream } = env;
    const promoted = { ...record('promote'), request_id: 'default-stream' };

    await auditLog({ env: withoutStream }).write([promoted]);

    expect(logs.records('Custom-VigilAudit_CL', ruleId).map((row) => row.request_id)).toContain(
      'default-stream',
    );
  });

  it('sends nothing for an empty list', async () => {
    const before = logs.counts();

    await auditLog({ env }).write([]);

    expect(logs.counts()).toEqual(before);
  });

  it('refuses a malformed record before uploading any of the batch', async () => {
    const before = logs.records(stream).length;
    const bad = { ...record('set'), status: 'done' } as unknown as AuditRecord;

    const error = await auditLog({ env })
      .write([record('create'), bad])
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AuditLogError);
    expect((error as Error).message).toMatch(/^records\[1\] was not written: .*status must be one of/);
    expect(logs.records(stream)).toHaveLength(before);
  });

  it('refuses a record smuggling a secret value, without echoing it', async () => {
    const canary = 'Canary-7f3e-Hunter2-value';
    const leaky = { ...record('set'), metadata: { password: canary } };

    const error = await auditLog({ env })
      .write([leaky])
      .catch((e: unknown) => e);

    expect((error as Error).message).toContain('metadata.password names secret material');
    expect((error as Error).message).not.toContain(canary);
    expect(JSON.stringify(logs.records(stream))).not.toContain(canary);
  });

  it('surfaces a refused upload with its cause and the ids that did not land', async () => {
    const misrouted = { ...env, VIGIL_AUDIT_ENDPOINT: `${logs.url}/not-a-collection-endpoint` };
    const records = [record('create', 'failure'), record('set', 'failure')];

    const error = await auditLog({ env: misrouted })
      .write(records)
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AuditLogError);
    const auditError = error as AuditLogError;
    expect(auditError.message).toMatch(
      /failed for 2 of 2 records: 404 RestError: .*is not \/dataCollectionRules/,
    );
    expect(auditError.failedRecordIds).toEqual(records.map((r) => r.id));
    expect(isAggregateLogsUploadError(auditError.cause)).toBe(true);
  });

  it('writes each record to the function log as one JSON line when no endpoint is configured', async () => {
    const lines: string[] = [];
    const before = logs.counts();
    const records = [record('create'), record('promote')];

    await auditLog({ env: baseEnv, log: (line) => lines.push(line) }).write(records);

    expect(lines).toHaveLength(2);
    expect(lines.map((line) => JSON.parse(line))).toEqual(records.map((r) => ({ auditRecord: r })));
    expect(logs.counts()).toEqual(before);
  });

  it.each([
    [
      { VIGIL_AUDIT_ENDPOINT: 'https://127.0.0.1:1' },
      'VIGIL_AUDIT_RULE_ID is required when VIGIL_AUDIT_ENDPOINT',
    ],
    [{ VIGIL_AUDIT_RULE_ID: ruleId }, 'VIGIL_AUDIT_ENDPOINT is required when VIGIL_AUDIT_RULE_ID'],
    [
      { VIGIL_AUDIT_ENDPOINT: 'http://127.0.0.1:1', VIGIL_AUDIT_RULE_ID: ruleId },
      'VIGIL_AUDIT_ENDPOINT must be an https',
    ],
    [
      { VIGIL_AUDIT_ENDPOINT: 'https://127.0.0.1:1', VIGIL_AUDIT_RULE_ID: 'rule-1' },
      'VIGIL_AUDIT_RULE_ID must be',
    ],
    [
      {
        VIGIL_AUDIT_ENDPOINT: 'https://127.0.0.1:1',
        VIGIL_AUDIT_RULE_ID: ruleId,
        VIGIL_AUDIT_STREAM: 'VigilAudit',
      },
      'VIGIL_AUDIT_STREAM must be a custom stream name',
    ],
  ])(
    'refuses half or bad audit settings %o on first write, naming the setting',
    async (settings, message) => {
      const error = await auditLog({ env: { ...baseEnv, ...settings } })
        .write([record('create')])
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(message);
    },
  );
});
