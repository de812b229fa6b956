/**
 * The caller as App Service Authentication describes it in the `x-ms-client-principal` header
 * (base64 JSON). Only the platform sets that header: the host strips any copy a client sends.
 */
export interface Principal {
  id: string;
  name: string;
  roles: string[];
}

interface ClientPrincipalClaims {
  role_typ?: string;
  name_typ?: string;
  claims?: { typ?: unknown; val?: unknown }[];
}

const objectIdClaim = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const roleClaimUri = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';

/**
 * Decodes the principal header; undefined when the caller is anonymous or the header is malformed.
 * App Service names `role_typ` as the long role URI while Entra ID app roles arrive as `roles`
 * claims, so both (and whatever `role_typ` says) count as roles.
 * @example
 * const caller = principalFrom(request.headers.get('x-ms-client-principal'));
 */
export function principalFrom(header: string | null | undefined): Principal | undefined {
  if (!header) return undefined;
  let decoded: ClientPrincipalClaims;
  try {
    decoded = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as ClientPrincipalClaims;
  } catch {
    return undefined;
  }
  if (!Array.isArray(decoded.claims)) return undefined;
  const claims = decoded.claims.filter(
    (claim): claim is { typ: string; val: string } =>
      typeof claim.typ === 'string' && typeof claim.val === 'string',
  );
  const valuesOf = (...types: (string | undefined)[]) =>
    claims.filter((claim) => types.includes(claim.typ)).map((claim) => claim.val);
  const [id] = [...valuesOf(objectIdClaim), ...valuesOf('oid'), ...valuesOf('sub')];
  if (!id) return undefined;
  const [name = id] = [...valuesOf(decoded.name_typ), ...valuesOf('name'), ...valuesOf('preferred_username')];
  const roles = [...new Set(valuesOf(decoded.role_typ, 'roles', roleClaimUri))];
  return { id, name, roles };
}

export type Authorization =
  | { allowed: true; principal: Principal }
  | { allowed: false; status: 401 | 403; reason: string };

/**
 * Checks that the caller is signed in and holds `role`.
 * @example
 * const auth = authorize(request.headers.get('x-ms-client-principal'), 'responder');
 * if (!auth.allowed) return { status: auth.status, jsonBody: { error: auth.reason } };
 */
export function authorize(header: string | null | undefined, role: string): Authorization {
  const principal = principalFrom(header);
  if (!principal)
    return { allowed: false, status: 401, reason: 'Sign in: this route needs an authenticated caller' };
  if (!principal.roles.includes(role)) {
    return { allowed: false, status: 403, reason: `The caller lacks the "${role}" role this route needs` };
  }
  return { allowed: true, principal };
}
