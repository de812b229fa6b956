/**
 * Azure Functions HTTP route templates (ASP.NET style): literal segments match case-insensitively,
 * `{name}` captures a segment, `{name?}` an optional last segment, `{name:int}` (or `alpha`, `guid`)
 * constrains it and `{*rest}` captures the remainder.
 */
export interface Route {
  template: string;
  /** How many literal segments the template has; more literals means a more specific route. */
  literals: number;
  match(pathname: string): Record<string, string> | undefined;
}

const constraints: Record<string, RegExp> = {
  int: /^-?\d+$/,
  alpha: /^[A-Za-z]+$/,
  guid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
};

type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean; constraint?: RegExp }
  | { kind: 'rest'; name: string };

/**
 * Compiles a route template, after the route prefix.
 * @example
 * compileRoute('secrets/{vault}/{name}/rotate').match('/secrets/kv1/db/rotate'); // { vault: 'kv1', name: 'db' }
 */
export function compileRoute(template: string): Route {
  const segments = template.split('/').filter(Boolean).map(parseSegment);
  return {
    template,
    literals: segments.filter((segment) => segment.kind === 'literal').length,
    match(pathname) {
      const parts = decodeSegments(pathname);
      if (!parts) return undefined;
      const params: Record<string, string> = {};
      for (const [index, segment] of segments.entries()) {
        const part = parts[index];
        if (segment.kind === 'rest') {
          params[segment.name] = parts.slice(index).join('/');
          return params;
        }
        if (part === undefined) return segment.kind === 'param' && segment.optional ? params : undefined;
        if (segment.kind === 'literal') {
          if (part.toLowerCase() !== segment.text.toLowerCase()) return undefined;
        } else {
          if (segment.constraint && !segment.constraint.test(part)) return undefined;
          params[segment.name] = part;
        }
      }
      return parts.length === segments.length ? params : undefined;
    },
  };
}

/** Path segments, decoded one by one; undefined when one is not valid percent-encoding. */
function decodeSegments(pathname: string): string[] | undefined {
  try {
    return pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function parseSegment(text: string): Segment {
  const param = /^\{(\*?)([A-Za-z_][\w]*)(?::([a-z]+))?(\?)?\}$/.exec(text);
  if (!param) {
    if (/[{}]/.test(text)) throw new Error(`Unsupported route segment "${text}"`);
    return { kind: 'literal', text };
  }
  const [, star, name = '', constraintName, optional] = param;
  if (star) return { kind: 'rest', name };
  const constraint = constraintName ? constraints[constraintName] : undefined;
  if (constraintName && !constraint)
    throw new Error(`Unsupported route constraint "${constraintName}" in "${text}"`);
  return { kind: 'param', name, optional: Boolean(optional), ...(constraint && { constraint }) };
}
