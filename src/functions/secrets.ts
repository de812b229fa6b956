import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { keyVault } from '../adapters/keyVault.js';
import { authorize } from '../core/principal.js';
import { SECRET_NAME, VAULT_NAME } from '../core/rotation/keyVaultEvent.js';
import { rotationMark } from '../core/rotation/tags.js';
import { startRotation } from '../orchestrations/shared/instances.js';

const responderRole = 'responder';

/**
 * POST /api/secrets/{vault}/{name}/rotate (Easy Auth, responder role): rotates the secret now, or
 * joins the rotation already running, and answers 202 with the orchestration's status URLs.
 */
export async function rotateSecretNow(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const auth = authorize(request.headers.get('x-ms-client-principal'), responderRole);
  if (!auth.allowed) return { status: auth.status, jsonBody: { error: auth.reason } };
  const vault = request.params.vault ?? '';
  const secret = request.params.name ?? '';
  if (!VAULT_NAME.test(vault))
    return badRequest('vault must be a Key Vault name: 3-24 letters, digits or -, starting with a letter');
  if (!SECRET_NAME.test(secret)) return badRequest('name must be a secret name: 1-127 letters, digits or -');
  const current = await keyVault(vault).current(secret);
  if (current === undefined)
    return { status: 404, jsonBody: { error: `No secret ${secret} in vault ${vault}` } };
  const mark = rotationMark(current.tags);
  if (!mark.marked)
    return { status: 409, jsonBody: { error: `Secret ${secret} is not marked for rotation: ${mark.why}` } };
  const client = df.getClient(context);
  const { instanceId, started } = await startRotation(client, {
    vault,
    secret,
    trigger: { reason: 'on-demand', requestedBy: auth.principal.name },
  });
  context.log(
    `${auth.principal.name} asked to rotate ${vault}/${secret}: ${started ? 'started' : 'joined'} ${instanceId}`,
  );
  return client.createCheckStatusResponse(request, instanceId);
}

function badRequest(error: string): HttpResponseInit {
  return { status: 400, jsonBody: { error } };
}

app.http('rotateSecretNow', {
  route: 'secrets/{vault}/{name}/rotate',
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: rotateSecretNow,
});
