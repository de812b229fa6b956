import type { ResolvedResource, TemplateSource } from '../template/evaluate.js';

export type Severity = 'critical' | 'high' | 'medium' | 'low';
export type Profile = 'dev' | 'prod';
type Scalar = string | number | boolean;

/** What a property must hold. Strings compare without regard to case, as ARM does. */
export type Expectation =
  | { equals: Scalar }
  | { oneOf: Scalar[] }
  | { notEquals: Scalar }
  | { between: [number, number] }
  | { atLeast: number }
  | { present: true };

/** One property of one resource type and the value it must hold. */
export interface PropertyCheck {
  path: string;
  expect: Expectation;
  /** Absence passes: the service default is the secure value. */
  optional?: boolean;
  /**
   * Whether the template must write a literal here (GEN-01). False for ids and for values that
   * rightly come from parameters; those are still evaluated and checked.
   */
  literal?: boolean;
  /** Applies in this profile only. */
  profile?: Profile;
}

export interface PropertyTarget {
  type: string;
  /** Restricts the target to resources whose last name segment is one of these (e.g. a configuration). */
  names?: string[];
  checks: PropertyCheck[];
}

/** A property a cross-resource rule reads, which must therefore be a literal. */
export interface LiteralProperty {
  type: string;
  path: string;
}

/** Everything the gate resolved, for rules that look across resources and stages. */
export interface PolicyEnvironment {
  resources: ResolvedResource[];
  templates: TemplateSource[];
  profile: Profile;
}

/** One place a rule is broken; the gate adds the rule's id, severity, message and fix. */
export interface Violation {
  resource?: ResolvedResource;
  stage?: string;
  path: string;
  detail: string;
}

/** A policy rule: data (id, control, severity, property checks) plus, where needed, a small check. */
export interface PolicyRule {
  id: string;
  title: string;
  /** Microsoft cloud security benchmark controls the rule serves; empty when it serves availability only. */
  controls: string[];
  severity: Severity;
  message: string;
  fix: string;
  targets?: PropertyTarget[];
  literals?: LiteralProperty[];
  check?: (environment: PolicyEnvironment) => Violation[];
}

/** A broken rule at one place in one stage's template. Never carries a secure parameter's value. */
export interface Finding {
  ruleId: string;
  severity: Severity;
  controls: string[];
  stage: string;
  /** `type 'name'` of the resource, or `template` for template-level findings. */
  resource: string;
  /** JSON path inside the resource (or template) where the problem is. */
  path: string;
  message: string;
  detail: string;
  fix: string;
}
