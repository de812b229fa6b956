import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { auditStream, localVault, type Stack, vigilTopic } from '../../local/stack.js';
import { startWebhookReceiver, type WebhookReceiver } from './webhookReceiver.js';

/**
 * Secret hygiene for the suite (measures.md): every secret value a test generates or reads is a
 * canary, and nothing the stack logged or recorded may contain one, in any usual encoding. Findings
 * name the canary's label and where it appeared, never the value.
 */

/** Shorter values would match by chance in unrelated text. */
export const MIN_CANARY_LENGTH = 8;
const MAX_LISTED_FINDINGS = 20;
const EXCERPT_RADIUS = 60;
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** Text the stack recorded, with where it came from (`host log line 12`, `table History …`). */
export interface Recorded {
  source: string;
  text: string;
}

/** A canary found where it must never be; `excerpt` has every canary replaced by `[canary:label]`. */
export interface LeakFinding {
  canary: string;
  source: string;
  excerpt: string;
}

/** Secret values leaked into what the stack recorded. The message lists where, never the values. */
export class SecretLeakError extends Error {
  override name = 'SecretLeakError';
  constructor(readonly findings: LeakFinding[]) {
    const listed = findings
      .slice(0, MAX_LISTED_FINDINGS)
      .map((finding) => `- ${finding.canary} in ${finding.source}: ${finding.excerpt}`);
    const more =
      findings.length > MAX_LISTED_FINDINGS ? [`…and ${findings.length - MAX_LISTED_FINDINGS} more`] : [];
    super([`${findings.length} secret value leak(s) found:`, ...listed, ...more].join('\n'));
  }
}

/**
 * The registry of secret values the suite must never see recorded.
 * @example
 * const canaries = new SecretCanaries();
 * canaries.add(password, 'db-app pending');
 * await canaries.addFromVault(stack);
 */
export class SecretCanaries {
  readonly #labels = new Map<string, string>();
  #forms: { form: string; label: string }[] | undefined;

  get size(): number {
    return this.#labels.size;
  }

  /** Registers a value; the label (e.g. `kv/db-app@v2`) is what findings show instead of it. */
  add(value: string, label = `canary ${this.#labels.size + 1}`): void {
    if (value.length < MIN_CANARY_LENGTH)
      throw new RangeError(`canary "${label}" must be at least ${MIN_CANARY_LENGTH} characters long`);
    if (this.#labels.has(value)) return;
    this.#labels.set(value, label);
    this.#forms = undefined;
  }

  /**
   * Registers every readable version of every secret in the vault (disabled versions cannot be read:
   * feed those with `add` when the test generates them). Returns how many values were added.
   */
  async addFromVault(stack: Stack, vaultName = localVault): Promise<number> {
    const client = new SecretClient(stack.keyVault.url(vaultName), anyBearer, {
      disableChallengeResourceVerification: true,
    });
    const before = this.size;
    for await (const secret of client.listPropertiesOfSecrets()) {
      for await (const version of client.listPropertiesOfSecretVersions(secret.name)) {
        if (!version.enabled || !version.version) continue;
        const { value } = await client.getSecret(secret.name, { version: version.version });
        if (value && value.length >= MIN_CANARY_LENGTH)
          this.add(value, `${vaultName}/${secret.name}@${version.version}`);
      }
    }
    return this.size - before;
  }

  /** Labels of the canaries `text` contains, raw or encoded. */
  foundIn(text: string): string[] {
    return [
      ...new Set(
        this.#allForms()
          .filter(({ form }) => text.includes(form))
          .map(({ label }) => label),
      ),
    ];
  }

  /** `text` with every canary (raw or encoded) replaced by `[canary:label]`. */
  redact(text: string): string {
    let safe = text;
    for (const { form, label } of this.#allForms()) safe = safe.split(form).join(`[canary:${label}]`);
    return safe;
  }

  /** The findings in `recorded`, each with a redacted excerpt around the first occurrence. */
  findLeaks(recorded: Iterable<Recorded>): LeakFinding[] {
    if (this.size === 0)
      throw new Error('No canaries: feed the generated secret values first, or the scan proves nothing');
    const findings: LeakFinding[] = [];
    for (const { source, text } of recorded) {
      const labels = this.foundIn(text);
      if (labels.length === 0) continue;
      const redacted = this.redact(text);
      for (const canary of labels)
        findings.push({ canary, source, excerpt: excerpt(redacted, `[canary:${canary}]`) });
    }
    return findings;
  }

  // Longest first, so a canary that contains another is redacted whole.
  #allForms(): { form: string; label: string }[] {
    this.#forms ??= [...this.#labels]
      .flatMap(([value, label]) => encodings(value).map((form) => ({ form, label })))
      .sort((a, b) => b.form.length - a.form.length);
    return this.#forms;
  }
}

/**
 * The value as it would appear raw, JSON-escaped, URL-encoded, or inside base64 / base64url text at
 * any byte alignment (edge characters that depend on neighbouring bytes are dropped).
 */
function encodings(value: string): string[] {
  const forms = new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]);
  const bytes = Buffer.from(value);
  for (const offset of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    const firstClean = Math.ceil((offset * 8) / 6);
    const lastClean = Math.floor((padded.length * 8) / 6);
    for (const alphabet of ['base64', 'base64url'] as const) {
      const form = padded.toString(alphabet).slice(firstClean, lastClean);
      if (form.length >= MIN_CANARY_LENGTH) forms.add(form);
    }
  }
  return [...forms];
}

function excerpt(text: string, marker: string): string {
  const at = text.indexOf(marker);
  const start = Math.max(0, at - EXCERPT_RADIUS);
  const end = Math.min(text.length, at + marker.length + EXCERPT_RADIUS);
  const clipped = text.slice(start, end).replace(/\s+/g, ' ');
  return `${start > 0 ? '…' : ''}${clipped}${end < text.length ? '…' : ''}`;
}

/** The emulators check that a bearer token is present, not what it says. */
const anyBearer: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({
    token: 'secret-hygiene-scan',
    expiresOnTimestamp: Date.now() + 3600_000,
  }),
};

/** A webhook subscribed to Vigil's topics, keeping every event Event Grid delivered. */
export interface EventTap {
  received(): Recorded[];
  close(): Promise<void>;
}

const tapName = 'secret-hygiene-tap';

/**
 * Subscribes a recording webhook to every event on the given topics (default: Vigil's custom topic
 * and the local vault's system topic). Start it before the test acts; events published earlier are
 * not seen.
 * @example
 * const tap = await tapEvents(stack);
 * // … run the scenario …
 * await expectNoSecretLeaks(stack, canaries, { lines, tap });
 */
export async function tapEvents(
  stack: Stack,
  topics: readonly string[] = [vigilTopic, localVault],
): Promise<EventTap> {
  const receiver: WebhookReceiver = await startWebhookReceiver();
  for (const topic of topics) {
    await stack.eventGrid.createSubscription(topic, tapName, {
      endpointUrl: receiver.url,
      maxEventsPerBatch: 100,
    });
  }
  return {
    received: () =>
      receiver.notifications().map((request, index) => ({
        source: `Event Grid delivery ${index + 1} (${String(request.headers['aeg-subscription-name'])})`,
        text: JSON.stringify(request.body),
      })),
    async close() {
      for (const topic of topics) stack.eventGrid.deleteSubscription(topic, tapName);
      await receiver.close();
    },
  };
}

export interface ScanOptions {
  /** Every line the stack logged: the array given to `startTestStack(lines)` (host and emulators). */
  lines: readonly string[];
  /** Logs Ingestion streams to read; default the stack's audit stream. */
  streams?: readonly string[];
  /** Event Grid deliveries seen by a tap (see {@link tapEvents}). */
  tap?: EventTap;
  /** Tables to read from Vigil's storage accounts; default every table (Vigil's and the Durable task hub's). */
  tables?: (name: string) => boolean;
  /** Extra files or directories, read recursively: dead-letter directories, PostgreSQL logs. */
  files?: readonly string[];
}

/**
 * Everything the stack logged and recorded: host and emulator log lines, Logs Ingestion records,
 * tapped Event Grid deliveries, Table storage rows and the extra files given.
 * @example
 * const recorded = await stackRecordings(stack, { lines });
 */
export async function stackRecordings(stack: Stack, options: ScanOptions): Promise<Recorded[]> {
  const streams = options.streams ?? [stack.settings.VIGIL_AUDIT_STREAM ?? auditStream];
  return [
    ...options.lines.map((text, index) => ({ source: `log line ${index + 1}`, text })),
    ...streams.flatMap((stream) =>
      stack.logs.records(stream).map((record, index) => ({
        source: `Logs Ingestion ${stream} record ${index + 1}`,
        text: JSON.stringify(record),
      })),
    ),
    ...(options.tap?.received() ?? []),
    ...(await tableRows(stack, options.tables ?? (() => true))),
    ...(await fileContents(options.files ?? [])),
  ];
}

/**
 * Fails, listing each canary's label and where it appeared (never the value), when anything the
 * stack recorded contains a canary. Returns how much was scanned, so a test can check the scan saw
 * what it should (a scan of nothing passes trivially).
 * @throws SecretLeakError
 * @example
 * const scanned = await expectNoSecretLeaks(stack, canaries, { lines, tap });
 * expect(scanned.auditRecords).toBeGreaterThan(0);
 */
export async function expectNoSecretLeaks(
  stack: Stack,
  canaries: SecretCanaries,
  options: ScanOptions,
): Promise<{ texts: number; auditRecords: number; events: number; tableRows: number; canaries: number }> {
  const recorded = await stackRecordings(stack, options);
  const findings = canaries.findLeaks(recorded);
  if (findings.length > 0) throw new SecretLeakError(findings);
  const count = (prefix: string) => recorded.filter((entry) => entry.source.startsWith(prefix)).length;
  return {
    texts: recorded.length,
    auditRecords: count('Logs Ingestion'),
    events: count('Event Grid'),
    tableRows: count('table '),
    canaries: canaries.size,
  };
}

async function tableRows(stack: Stack, include: (name: string) => boolean): Promise<Recorded[]> {
  const connections = new Set(
    [stack.settings.VIGIL_STATE_STORAGE, stack.settings.AzureWebJobsStorage].filter(
      (value): value is string => typeof value === 'string' && value !== '',
    ),
  );
  const rows: Recorded[] = [];
  for (const connection of connections) {
    const service = TableServiceClient.fromConnectionString(connection, { allowInsecureConnection: true });
    for await (const table of service.listTables()) {
      if (!table.name || !include(table.name)) continue;
      const client = TableClient.fromConnectionString(connection, table.name, {
        allowInsecureConnection: true,
      });
      for await (const entity of client.listEntities()) {
        rows.push({
          source: `table ${table.name} row ${entity.partitionKey}/${entity.rowKey}`,
          text: JSON.stringify(entity),
        });
      }
    }
  }
  return rows;
}

async function fileContents(paths: readonly string[]): Promise<Recorded[]> {
  const recorded: Recorded[] = [];
  for (const entry of paths) {
    const info = await stat(entry).catch(() => undefined);
    if (!info) continue;
    if (info.isDirectory()) {
      const children = await readdir(entry);
      recorded.push(...(await fileContents(children.map((child) => path.join(entry, child)))));
    } else if (info.isFile() && info.size <= MAX_FILE_BYTES) {
      recorded.push({ source: `file ${entry}`, text: await readFile(entry, 'utf8') });
    }
  }
  return recorded;
}
