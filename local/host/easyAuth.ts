import { jwtVerify, SignJWT } from 'jose';

/**
 * A local stand-in for App Service Authentication ("Easy Auth"): it validates bearer tokens
 * and turns them into the `x-ms-client-principal` headers the app reads. Tokens are HS256,
 * signed with the host's own key, so only this host's `npm run token` can mint them.
 */
export const issuer = 'https://login.local.vigil/';
export const audience = 'api://vigil-local';

export interface TokenRequest {
  subject: string;
  name?: string;
  roles: string[];
  /** Lifetime in seconds. */
  expiresIn?: number;
}

/**
 * Mints a bearer token the local host accepts.
 * @example
 * const token = await issueToken(keys.tokenSigningKey, { subject: 'alice', roles: ['responder'] });
 */
export async function issueToken(signingKey: string, request: TokenRequest): Promise<string> {
  return new SignJWT({ roles: request.roles, name: request.name ?? request.subject })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(request.subject)
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(`${request.expiresIn ?? 3600}s`)
    .sign(Buffer.from(signingKey));
}

/** A token that is not one of ours, or has expired: the request gets 401, as with Easy Auth. */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/** Headers Easy Auth sends to the app for an authenticated caller. */
export type PrincipalHeaders = Record<`x-ms-client-principal${string}`, string>;

/**
 * Validates a bearer token and builds the principal headers; the claims format is App Service's.
 * @example
 * const headers = await principalHeaders(keys.tokenSigningKey, token);
 */
export async function principalHeaders(signingKey: string, token: string): Promise<PrincipalHeaders> {
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    ({ payload } = await jwtVerify(token, Buffer.from(signingKey), {
      issuer,
      audience,
      algorithms: ['HS256'],
    }));
  } catch (error) {
    throw new InvalidTokenError(`The bearer token was rejected: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const subject = payload.sub ?? '';
  const name = typeof payload.name === 'string' ? payload.name : subject;
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((role) => typeof role === 'string') : [];
  const principal = {
    // The shape App Service sends: long claim-type URIs for name and role, app roles as `roles`.
    auth_typ: 'aad',
    name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
    role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
    claims: [
      { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: subject },
      { typ: 'name', val: name },
      { typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name', val: name },
      ...roles.map((role) => ({ typ: 'roles', val: role })),
    ],
  };
  return {
    'x-ms-client-principal': Buffer.from(JSON.stringify(principal)).toString('base64'),
    'x-ms-client-principal-id': subject,
    'x-ms-client-principal-name': name,
    'x-ms-client-principal-idp': 'aad',
  };
}
