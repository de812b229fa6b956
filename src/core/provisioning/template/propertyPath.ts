import { DeployTimeValue } from './deployTimeValue.js';
import { isExpression } from './expression.js';
import { isRecord } from './functions.js';

/** One property a path selects, with what the template wrote for it. */
export interface PropertyMatch {
  /** Concrete path, wildcards replaced by indexes: `properties.securityRules[2].properties.access`. */
  path: string;
  present: boolean;
  /** The evaluated value; a `DeployTimeValue` when only the deployment will know it. */
  value: unknown;
  /** The expression the template wrote at this property or one of its parents, when not a literal. */
  expression?: string;
}

type Token = { key: string; each: boolean };

/**
 * Selects the properties a path names in a declaration, walking the written and the evaluated form
 * side by side so each match says whether it was a literal. `[*]` visits every array item.
 * @example
 * selectProperty(raw, value, 'properties.securityRules[*].properties.access');
 * // [{ path: 'properties.securityRules[0].properties.access', present: true, value: 'Deny' }, …]
 */
export function selectProperty(raw: unknown, value: unknown, path: string): PropertyMatch[] {
  const tokens = path.split('.').map((segment) => {
    const each = segment.endsWith('[*]');
    return { key: each ? segment.slice(0, -3) : segment, each };
  });
  return walk(raw, value, tokens, '', undefined);
}

function walk(
  raw: unknown,
  value: unknown,
  tokens: Token[],
  path: string,
  expression: string | undefined,
): PropertyMatch[] {
  const written = expression ?? (isExpression(raw) ? raw : undefined);
  const [token, ...rest] = tokens;
  if (!token || value instanceof DeployTimeValue) {
    const unvisited = tokens.map((t) => `${t.key}${t.each ? '[*]' : ''}`).join('.');
    const fullPath = unvisited ? `${path ? `${path}.` : ''}${unvisited}` : path;
    return [{ path: fullPath, present: value !== undefined, value, ...(written && { expression: written }) }];
  }
  const here = path ? `${path}.${token.key}` : token.key;
  const child = property(value, token.key);
  const rawChild = written ? undefined : property(raw, token.key);
  if (!token.each) return walk(rawChild, child, rest, here, written);
  if (!Array.isArray(child)) {
    if (child === undefined) return [];
    return walk(rawChild, child, [], here, written ?? (isExpression(rawChild) ? rawChild : undefined));
  }
  const rawItems = Array.isArray(rawChild) ? rawChild : [];
  const itemExpression = written ?? (isExpression(rawChild) ? rawChild : undefined);
  return child.flatMap((item, index) =>
    walk(rawItems[index], item, rest, `${here}[${index}]`, itemExpression),
  );
}

/** ARM property names are case-insensitive. */
function property(container: unknown, key: string): unknown {
  if (!isRecord(container)) return undefined;
  if (key in container) return container[key];
  const found = Object.keys(container).find((candidate) => candidate.toLowerCase() === key.toLowerCase());
  return found === undefined ? undefined : container[found];
}

/**
 * Reads one property of an evaluated value by path (no wildcards), ignoring case.
 * @example
 * readProperty({ properties: { subnet: { id: '/x' } } }, 'properties.subnet.id'); // '/x'
 */
export function readProperty(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((current, key) => property(current, key), value);
}
