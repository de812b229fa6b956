import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { Clock } from '../../clock.js';
import { closeServer } from '../../http.js';
import { ensureLocalCertificates } from '../../tls.js';
import { AZURE_RETRY_SCHEDULE_MS, type DeliveryStats } from './delivery.js';
import { EventGridEmulatorError } from './errors.js';
import { routeRequest } from './server.js';
import type { SubscriptionConfigInput } from './subscriptionConfig.js';
import {
  type CustomTopicInput,
  type SubscriptionInfo,
  type SystemEventInput,
  type SystemTopicInput,
  type TopicInfo,
  TopicRegistry,
} from './topics.js';

export { EventGridEmulatorError, EventGridRequestError, SubscriptionValidationError } from './errors.js';
export type { EventSchemaName } from './model.js';
export type { SubscriptionConfigInput } from './subscriptionConfig.js';
export type {
  CustomTopicInput,
  SubscriptionInfo,
  SystemEventInput,
  SystemTopicInput,
  TopicInfo,
} from './topics.js';
export { AZURE_RETRY_SCHEDULE_MS };

export interface EventGridEmulatorOptions {
  /** Where the local CA and server certificate live (see local/tls.ts). */
  tlsDir: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  clock?: Clock;
  /** Used in custom topics' resource ids. */
  azureSubscriptionId?: string;
  resourceGroup?: string;
  topics?: CustomTopicInput[];
  systemTopics?: SystemTopicInput[];
  /** Created (with the webhook handshake) before the emulator reports itself started. */
  subscriptions?: Array<{ topic: string; name: string } & SubscriptionConfigInput>;
  /** Delay before each retry; the last value repeats. Defaults to Azure's schedule (10 s, 30 s, 1 min, …, 12 h). */
  retryScheduleMs?: readonly number[];
  /** How long a webhook gets to answer one delivery; Azure waits 30 s. */
  deliveryTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface EventGridEmulator {
  /** Base URL, e.g. https://127.0.0.1:51234 */
  url: string;
  /** The CA that signed the emulator's certificate, for NODE_EXTRA_CA_CERTS. */
  caPath: string;
  /** The publish endpoint to give EventGridPublisherClient for a custom topic. */
  topicEndpoint(topic: string): string;
  createTopic(input: CustomTopicInput): TopicInfo;
  createSystemTopic(input: SystemTopicInput): TopicInfo;
  createSubscription(topic: string, name: string, config: SubscriptionConfigInput): Promise<SubscriptionInfo>;
  deleteSubscription(topic: string, name: string): boolean;
  subscription(topic: string, name: string): SubscriptionInfo;
  publishSystemEvents(topic: string, events: SystemEventInput[]): void;
  /** Resolves once no delivery is pending anywhere. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export type { DeliveryStats };

/**
 * Starts the Event Grid emulator over HTTPS: custom topics that the real EventGridPublisherClient
 * publishes to with a key, system topics fed in-process, and webhook subscriptions with Azure's
 * handshake, filters, batching, retries and dead-lettering.
 * @example
 * const eventGrid = await startEventGridEmulator({ tlsDir: '.vigil/tls', port: 0, topics: [{ name: 'vigil', key }] });
 * const client = new EventGridPublisherClient(eventGrid.topicEndpoint('vigil'), 'EventGrid', new AzureKeyCredential(key));
 */
export async function startEventGridEmulator(options: EventGridEmulatorOptions): Promise<EventGridEmulator> {
  const certificates = await ensureLocalCertificates(options.tlsDir);
  const clock = options.clock ?? new Clock();
  const shutdown = new AbortController();
  const registry = new TopicRegistry({
    clock,
    azureSubscriptionId: options.azureSubscriptionId ?? '00000000-0000-0000-0000-000000000000',
    resourceGroup: options.resourceGroup ?? 'vigil-local',
    dispatch: {
      clock,
      retryScheduleMs: validSchedule(options.retryScheduleMs ?? AZURE_RETRY_SCHEDULE_MS),
      log: options.log ?? (() => undefined),
      transport: {
        ca: [...tls.getCACertificates('default'), certificates.caPem],
        timeoutMs: options.deliveryTimeoutMs ?? 30_000,
        signal: shutdown.signal,
      },
    },
  });
  for (const topic of options.topics ?? []) registry.createTopic(topic);
  for (const topic of options.systemTopics ?? []) registry.createSystemTopic(topic);

  const server = https.createServer({ key: certificates.key, cert: certificates.cert }, (req, res) => {
    void routeRequest(registry, req, res);
  });
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `https://${host}:${address.port}`;

  const close = async () => {
    shutdown.abort();
    registry.stop();
    await closeServer(server);
  };
  try {
    for (const { topic, name, ...config } of options.subscriptions ?? []) {
      await registry.createSubscription(topic, name, config);
    }
  } catch (error) {
    await close();
    throw error;
  }

  return {
    url,
    caPath: certificates.caPath,
    topicEndpoint: (topic) => `${url}/topics/${encodeURIComponent(topic)}/api/events`,
    createTopic: (input) => registry.createTopic(input),
    createSystemTopic: (input) => registry.createSystemTopic(input),
    createSubscription: (topic, name, config) => registry.createSubscription(topic, name, config),
    deleteSubscription: (topic, name) => registry.deleteSubscription(topic, name),
    subscription: (topic, name) => registry.getSubscription(topic, name),
    publishSystemEvents: (topic, events) => registry.publishSystemEvents(topic, events),
    idle: () => registry.idle(),
    close,
  };
}

function validSchedule(schedule: readonly number[]): readonly number[] {
  if (schedule.length === 0 || !schedule.every((ms) => Number.isFinite(ms) && ms >= 0)) {
    throw new EventGridEmulatorError('retryScheduleMs must be a non-empty list of delays in ms, each ≥ 0');
  }
  return schedule;
}
