import {
  app,
  type EventGridEvent,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import * as df from 'durable-functions';
import { stateStore } from '../adapters/stateStore.js';
import { authorize } from '../core/principal.js';
import {
  type ProbeRequest,
  ProbeRequestError,
  parseProbeId,
  parseProbeRequest,
  probeAcknowledgedEvent,
  probeInstanceId,
  probeRequestedEventType,
} from '../core/probe.js';
import { probesTable } from '../orchestrations/pipelineProbe.js';
import { findInstance, startSingleton } from '../orchestrations/shared/instances.js';

const responderRole = 'responder';

/** Starts the probe unless its instance already exists: Event Grid may deliver the same event twice. */
async function startProbe(client: df.DurableClient, request: ProbeRequest): Promise<string> {
  const instanceId = probeInstanceId(request.probeId);
  await startSingleton(client, 'pipelineProbe', instanceId, request);
  return instanceId;
}

function probeIdOf(request: HttpRequest) {
  try {
    return { ok: true as const, probeId: parseProbeId(request.params.probeId) };
  } catch (error) {
    if (!(error instanceof ProbeRequestError)) throw error;
    return { ok: false as const, response: { status: 400, jsonBody: { error: error.message } } };
  }
}

/** Event Grid: `Vigil.PipelineProbe.Requested` starts a probe; other event types are acknowledged and ignored. */
export async function probeEvents(event: EventGridEvent, context: InvocationContext): Promise<void> {
  if (event.eventType !== probeRequestedEventType) {
    context.log(`Ignoring event ${event.id}: type ${event.eventType} is not ${probeRequestedEventType}`);
    return;
  }
  let request: ProbeRequest;
  try {
    request = parseProbeRequest(event.data);
  } catch (error) {
    // A malformed event never becomes valid: retrying it would only delay the next one.
    if (!(error instanceof ProbeRequestError)) throw error;
    context.error(`Rejected event ${event.id}: ${error.message}`);
    return;
  }
  const instanceId = await startProbe(df.getClient(context), request);
  context.log(`Probe ${request.probeId} runs as ${instanceId}`);
}

/** POST /api/probes (function key): starts a probe and answers with its status URLs. */
export async function requestProbe(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  let probe: ProbeRequest;
  try {
    probe = parseProbeRequest(await request.json().catch(() => undefined));
  } catch (error) {
    if (!(error instanceof ProbeRequestError)) throw error;
    return { status: 400, jsonBody: { error: error.message } };
  }
  const client = df.getClient(context);
  const instanceId = await startProbe(client, probe);
  return client.createCheckStatusResponse(request, instanceId);
}

/** POST /api/probes/{probeId}/acknowledge (Easy Auth, responder role): the on-call engineer's answer. */
export async function acknowledgeProbe(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const auth = authorize(request.headers.get('x-ms-client-principal'), responderRole);
  if (!auth.allowed) return { status: auth.status, jsonBody: { error: auth.reason } };
  const id = probeIdOf(request);
  if (!id.ok) return id.response;
  const client = df.getClient(context);
  const status = await findInstance(client, probeInstanceId(id.probeId));
  if (!status) return { status: 404, jsonBody: { error: `No probe ${id.probeId}` } };
  if (status.runtimeStatus !== df.OrchestrationRuntimeStatus.Running) {
    return { status: 409, jsonBody: { error: `Probe ${id.probeId} is ${status.runtimeStatus}` } };
  }
  await client.raiseEvent(probeInstanceId(id.probeId), probeAcknowledgedEvent, { by: auth.principal.name });
  return { status: 202, jsonBody: { probeId: id.probeId, acknowledgedBy: auth.principal.name } };
}

/** GET /api/probes/{probeId} (function key): the recorded result, once the probe has finished. */
export async function getProbeResult(request: HttpRequest): Promise<HttpResponseInit> {
  const id = probeIdOf(request);
  if (!id.ok) return id.response;
  const result = await stateStore().get(probesTable, 'probe', id.probeId);
  return result
    ? { status: 200, jsonBody: result }
    : { status: 404, jsonBody: { error: 'No result recorded yet' } };
}

app.eventGrid('probeEvents', { handler: probeEvents, extraInputs: [df.input.durableClient()] });
app.http('requestProbe', {
  route: 'probes',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: requestProbe,
});
app.http('acknowledgeProbe', {
  route: 'probes/{probeId}/acknowledge',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: acknowledgeProbe,
});
app.http('getProbeResult', {
  route: 'probes/{probeId}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getProbeResult,
});
