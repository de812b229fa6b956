import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { type DeliveryStats, type DispatcherContext, SubscriptionDispatcher } from './delivery.js';
import { badRequest, EventGridRequestError } from './errors.js';
import { matchesFilter } from './filter.js';
import { describeIssues, type PublishTarget, parsePublishBody } from './inbound.js';
import { EVENT_SCHEMAS, type EventSchemaName, type TopicEvent, toDeliverySchema } from './model.js';
import { verifySasToken } from './sas.js';
import {
  endpointBaseUrl,
  parseSubscriptionConfig,
  type SubscriptionConfigInput,
} from './subscriptionConfig.js';
import { validateWebhook } from './webhook.js';

const TOPIC_NAME = /^[A-Za-z0-9-]{3,50}$/;
const SUBSCRIPTION_NAME = /^[A-Za-z0-9-]{3,64}$/;

/** A custom topic as callers define it. `key` is what publishers send as `aeg-sas-key`. */
export interface CustomTopicInput {
  name: string;
  key: string;
  /** Defaults to EventGridSchema, as in Azure. */
  inputSchema?: EventSchemaName;
}

/** A system topic: events from one Azure resource (`source`, its resource id), published in-process. */
export interface SystemTopicInput {
  name: string;
  source: string;
  topicType: string;
}

/** An event another emulator raises on a system topic; Event Grid fills in id, time and topic. */
export interface SystemEventInput {
  eventType: string;
  subject: string;
  data?: unknown;
  id?: string;
  eventTime?: string;
  dataVersion?: string;
}

/** What the emulator tells about a topic (never its key). */
export interface TopicInfo {
  name: string;
  kind: 'custom' | 'system';
  resourceId: string;
  inputSchema: EventSchemaName;
  topicType?: string;
  subscriptions: string[];
}

/** What the emulator tells about a subscription (the endpoint without its query, which may hold a key). */
export interface SubscriptionInfo {
  topic: string;
  name: string;
  endpointBaseUrl: string;
  eventDeliverySchema: EventSchemaName;
  filter: {
    includedEventTypes?: string[];
    subjectBeginsWith: string;
    subjectEndsWith: string;
    isSubjectCaseSensitive: boolean;
  };
  maxEventsPerBatch: number;
  retryPolicy: { maxDeliveryAttempts: number; eventTimeToLiveInMinutes: number };
  deadLetterDirectory?: string;
  stats: DeliveryStats;
}

interface Topic extends PublishTarget {
  kind: 'custom' | 'system';
  keyDigests: Buffer[];
  /** Held only to check SAS signatures; never returned or logged. */
  keys: string[];
  topicType?: string;
  subscriptions: Map<string, SubscriptionDispatcher>;
}

const systemEventSchema = z.object({
  eventType: z.string({ error: 'required, a string' }).min(1, 'must not be empty'),
  subject: z.string({ error: 'required, a string' }),
  data: z.unknown().optional(),
  id: z.string({ error: 'must be a string' }).min(1, 'must not be empty').optional(),
  eventTime: z.string({ error: 'must be a string' }).optional(),
  dataVersion: z.string({ error: 'must be a string' }).optional(),
});

export interface TopicRegistryOptions {
  clock: Clock;
  dispatch: DispatcherContext;
  azureSubscriptionId: string;
  resourceGroup: string;
}

/**
 * Topics, their subscriptions and the fan-out from one to the other.
 * @example
 * registry.createTopic({ name: 'vigil-events', key });
 * await registry.createSubscription('vigil-events', 'host', { endpointUrl });
 * registry.publish('vigil-events', registry.parse('vigil-events', contentType, body));
 */
export class TopicRegistry {
  readonly #topics = new Map<string, Topic>();

  constructor(private readonly options: TopicRegistryOptions) {}

  createTopic(input: CustomTopicInput): TopicInfo {
    const name = requireTopicName(input.name);
    if (typeof input.key !== 'string' || input.key.length === 0)
      throw badRequest(`topic ${name}: key is required`);
    const inputSchema = input.inputSchema ?? 'EventGridSchema';
    if (!EVENT_SCHEMAS.includes(inputSchema)) {
      throw badRequest(`topic ${name}: inputSchema must be one of ${EVENT_SCHEMAS.join(', ')}`);
    }
    const { azureSubscriptionId, resourceGroup } = this.options;
    const resourceId = `/subscriptions/${azureSubscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.EventGrid/topics/${name}`;
    return this.#add({
      name,
      kind: 'custom',
      resourceId,
      inputSchema,
      keyDigests: [digest(input.key)],
      keys: [input.key],
    });
  }

  createSystemTopic(input: SystemTopicInput): TopicInfo {
    const name = requireTopicName(input.name);
    if (typeof input.source !== 'string' || !input.source.startsWith('/subscriptions/')) {
      throw badRequest(
        `system topic ${name}: source must be an Azure resource id starting with /subscriptions/`,
      );
    }
    if (typeof input.topicType !== 'string' || input.topicType.length === 0) {
      throw badRequest(`system topic ${name}: topicType is required, e.g. Microsoft.KeyVault.vaults`);
    }
    return this.#add({
      name,
      kind: 'system',
      resourceId: input.source,
      inputSchema: 'EventGridSchema',
      keyDigests: [],
      keys: [],
      topicType: input.topicType,
    });
  }

  #add(fields: Omit<Topic, 'subscriptions'>): TopicInfo {
    const existing = this.#topics.get(fields.name.toLowerCase());
    if (existing && (existing.kind !== fields.kind || existing.resourceId !== fields.resourceId)) {
      throw new EventGridRequestError(
        409,
        'Conflict',
        `a different topic named ${fields.name} already exists`,
      );
    }
    const topic = { ...fields, subscriptions: existing?.subscriptions ?? new Map() };
    this.#topics.set(fields.name.toLowerCase(), topic);
    return describeTopic(topic);
  }

  listTopics(): TopicInfo[] {
    return [...this.#topics.values()].map(describeTopic);
  }

  /** Looks up a custom topic for an HTTP publish and checks the caller's key or SAS token. */
  authorize(name: string, credentials: { key?: string | undefined; sasToken?: string | undefined }): Topic {
    const topic = this.#topics.get(name.toLowerCase());
    if (topic?.kind !== 'custom') {
      throw new EventGridRequestError(404, 'NotFound', `no custom topic named ${name}`);
    }
    const { key, sasToken } = credentials;
    if (key) {
      const presented = digest(key);
      if (topic.keyDigests.some((known) => timingSafeEqual(known, presented))) return topic;
      throw new EventGridRequestError(
        401,
        'Unauthorized',
        `the aeg-sas-key is not a valid key for topic ${topic.name}`,
      );
    }
    if (sasToken) {
      const path = `/topics/${topic.name}/api/events`;
      const problem = verifySasToken(sasToken, topic.keys, path, this.options.clock.now());
      if (!problem) return topic;
      throw new EventGridRequestError(
        401,
        'Unauthorized',
        `the aeg-sas-token for topic ${topic.name} is refused: ${problem}`,
      );
    }
    throw new EventGridRequestError(
      401,
      'Unauthorized',
      "the request must carry the topic's key in the aeg-sas-key header or a signature in aeg-sas-token",
    );
  }

  /** Validates an HTTP publish body for an authorized topic and fans the events out. */
  publishRequest(topic: Topic, contentType: string | undefined, body: Buffer): number {
    const events = parsePublishBody(topic, contentType, body);
    this.#fanOut(topic, events);
    return events.length;
  }

  /**
   * Raises events on a system topic, as Azure does for a resource's own events; `topic` is the source's resource id.
   * @example
   * registry.publishSystemEvents('kv-events', [{ eventType: 'Microsoft.KeyVault.SecretNearExpiry', subject: 'db-password', data }]);
   */
  publishSystemEvents(name: string, inputs: SystemEventInput[]): void {
    const topic = this.#topics.get(name.toLowerCase());
    if (topic?.kind !== 'system') throw badRequest(`no system topic named ${name}; create it first`);
    const now = this.options.clock.now().toISOString();
    const events = inputs.map((input, index): TopicEvent => {
      const parsed = systemEventSchema.safeParse(input);
      if (!parsed.success) throw badRequest(describeIssues(parsed.error.issues, `events[${index}]`));
      const { eventType, subject, data, id, eventTime, dataVersion } = parsed.data;
      const event = {
        id: id ?? randomUUID(),
        topic: topic.resourceId,
        subject,
        eventType,
        eventTime: eventTime ?? now,
        dataVersion: dataVersion ?? '1',
        metadataVersion: '1',
        ...(data === undefined ? {} : { data }),
      };
      return { schema: 'EventGridSchema', event };
    });
    this.#fanOut(topic, events);
  }

  #fanOut(topic: Topic, events: TopicEvent[]): void {
    const publishTime = this.options.clock.now();
    for (const dispatcher of topic.subscriptions.values()) {
      const { filter, eventDeliverySchema } = dispatcher.config;
      const matching = events.filter((event) => matchesFilter(filter, event));
      if (matching.length > 0) {
        dispatcher.enqueue(
          matching.map((event) => toDeliverySchema(event, eventDeliverySchema)),
          publishTime,
        );
      }
    }
  }

  /**
   * Creates (or replaces) a subscription after the webhook passes the validation handshake.
   * @example
   * await registry.createSubscription('vigil-events', 'host', { endpointUrl: 'http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=onEvent&code=...' });
   */
  async createSubscription(
    topicName: string,
    name: string,
    input: SubscriptionConfigInput | unknown,
  ): Promise<SubscriptionInfo> {
    const topic = this.#requireTopic(topicName);
    if (typeof name !== 'string' || !SUBSCRIPTION_NAME.test(name)) {
      throw badRequest('subscription name: must be 3 to 64 letters, digits or hyphens');
    }
    const config = parseSubscriptionConfig(input, topic.inputSchema);
    await validateWebhook(
      {
        topicResourceId: topic.resourceId,
        subscriptionName: name,
        endpointUrl: config.endpointUrl,
        eventDeliverySchema: config.eventDeliverySchema,
      },
      this.options.dispatch.transport,
      this.options.clock.now(),
    );
    topic.subscriptions.get(name.toLowerCase())?.stop();
    const dispatcher = new SubscriptionDispatcher(name, config, this.options.dispatch);
    topic.subscriptions.set(name.toLowerCase(), dispatcher);
    return describeSubscription(topic, dispatcher);
  }

  getSubscription(topicName: string, name: string): SubscriptionInfo {
    const topic = this.#requireTopic(topicName);
    const dispatcher = topic.subscriptions.get(name.toLowerCase());
    if (!dispatcher)
      throw new EventGridRequestError(404, 'NotFound', `no subscription ${name} on topic ${topic.name}`);
    return describeSubscription(topic, dispatcher);
  }

  deleteSubscription(topicName: string, name: string): boolean {
    const topic = this.#requireTopic(topicName);
    const dispatcher = topic.subscriptions.get(name.toLowerCase());
    dispatcher?.stop();
    return topic.subscriptions.delete(name.toLowerCase());
  }

  /** Resolves when every subscription has nothing pending. */
  async idle(): Promise<void> {
    const all = [...this.#topics.values()].flatMap((topic) => [...topic.subscriptions.values()]);
    await Promise.all(all.map((dispatcher) => dispatcher.idle()));
  }

  stop(): void {
    for (const topic of this.#topics.values())
      for (const dispatcher of topic.subscriptions.values()) dispatcher.stop();
  }

  #requireTopic(name: string): Topic {
    const topic = this.#topics.get(String(name).toLowerCase());
    if (!topic) throw new EventGridRequestError(404, 'NotFound', `no topic named ${name}`);
    return topic;
  }
}

function requireTopicName(name: unknown): string {
  if (typeof name !== 'string' || !TOPIC_NAME.test(name)) {
    throw badRequest('topic name: must be 3 to 50 letters, digits or hyphens');
  }
  return name;
}

/** Keys are compared as fixed-length digests so the comparison takes the same time whatever the key's length. */
function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

function describeTopic(topic: Topic): TopicInfo {
  const info: TopicInfo = {
    name: topic.name,
    kind: topic.kind,
    resourceId: topic.resourceId,
    inputSchema: topic.inputSchema,
    subscriptions: [...topic.subscriptions.values()].map((d) => d.name),
  };
  if (topic.topicType) info.topicType = topic.topicType;
  return info;
}

function describeSubscription(topic: Topic, dispatcher: SubscriptionDispatcher): SubscriptionInfo {
  const { config } = dispatcher;
  const info: SubscriptionInfo = {
    topic: topic.name,
    name: dispatcher.name,
    endpointBaseUrl: endpointBaseUrl(config.endpointUrl),
    eventDeliverySchema: config.eventDeliverySchema,
    filter: config.filter,
    maxEventsPerBatch: config.maxEventsPerBatch,
    retryPolicy: config.retryPolicy,
    stats: dispatcher.stats,
  };
  if (config.deadLetterDirectory) info.deadLetterDirectory = config.deadLetterDirectory;
  return info;
}
