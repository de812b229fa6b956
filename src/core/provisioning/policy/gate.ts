import { type ResolvedResource, resolveTemplate } from '../template/evaluate.js';
import { isRecord } from '../template/functions.js';
import type { DeploymentScope } from '../template/resourceIds.js';
import { policyRules } from './catalogue.js';
import { label } from './environmentQueries.js';
import { runPropertyChecks } from './propertyChecks.js';
import type { Finding, PolicyEnvironment, PolicyRule, Profile, Violation } from './types.js';

export interface GateOptions {
  profile: Profile;
  /** Where the deployment will run; the defaults suit linting, the orchestration passes the real one. */
  scope?: Partial<DeploymentScope>;
  /** Rules to enforce; the full catalogue unless a test narrows it. */
  rules?: readonly PolicyRule[];
}

/** One deployment stage: its name and template as read from the stage manifest. */
export interface StageTemplate {
  name: string;
  template: unknown;
}

const lintScope: DeploymentScope = {
  subscriptionId: '00000000-0000-0000-0000-000000000000',
  tenantId: '00000000-0000-0000-0000-000000000000',
  resourceGroup: { name: 'rg-vigil-lint', location: 'westeurope' },
};

/**
 * Runs the policy gate over every stage of an environment together, so cross-resource rules see
 * resources from all stages (a private endpoint in one, its DNS zone in another). Each template
 * gets the shared parameters it declares. An empty result means the environment may be deployed.
 * @example
 * const findings = evaluateEnvironment(stages, { environmentName: 'shop', profile: 'prod' }, { profile: 'prod' });
 * if (findings.length > 0) throw new Error(`policy gate refused: ${findings[0]?.ruleId}`);
 */
export function evaluateEnvironment(
  stages: StageTemplate[],
  parameters: Record<string, unknown>,
  options: GateOptions,
): Finding[] {
  return gate(
    stages.map((stage) => ({ ...stage, parameters: declaredOnly(stage.template, parameters) })),
    options,
  );
}

/**
 * Runs the policy gate over one template with its parameters (undeclared ones are a finding, as
 * ARM would reject them). Cross-resource rules see only this template's resources.
 * @example
 * const findings = evaluateTemplate(template, { environmentName: 'shop', profile: 'dev' }, { profile: 'dev' });
 */
export function evaluateTemplate(
  template: unknown,
  parameters: Record<string, unknown>,
  options: GateOptions & { stage?: string },
): Finding[] {
  return gate([{ name: options.stage ?? 'template', template, parameters }], options);
}

function gate(
  stages: (StageTemplate & { parameters: Record<string, unknown> })[],
  options: GateOptions,
): Finding[] {
  const scope = { ...lintScope, ...options.scope };
  const rules = options.rules ?? policyRules;
  const environment: PolicyEnvironment = { resources: [], templates: [], profile: options.profile };
  const findings: Finding[] = [];
  const evaluationRule = policyRules.find((rule) => rule.id === 'GEN-05');
  for (const stage of stages) {
    const resolved = resolveTemplate(stage.template, stage.parameters, scope, stage.name);
    environment.resources.push(...resolved.resources);
    environment.templates.push(...resolved.templates);
    if (evaluationRule && rules.includes(evaluationRule)) {
      findings.push(
        ...resolved.problems.map((problem) =>
          finding(evaluationRule, { stage: problem.stage, path: problem.path, detail: problem.message }),
        ),
      );
    }
  }
  for (const rule of rules) {
    const violations = [...runPropertyChecks(rule, environment), ...(rule.check?.(environment) ?? [])];
    findings.push(...violations.map((violation) => finding(rule, violation)));
  }
  return findings.sort(
    (a, b) =>
      a.stage.localeCompare(b.stage) || a.ruleId.localeCompare(b.ruleId) || a.path.localeCompare(b.path),
  );
}

function finding(rule: PolicyRule, violation: Violation): Finding {
  const resource: ResolvedResource | undefined = violation.resource;
  return {
    ruleId: rule.id,
    severity: rule.severity,
    controls: rule.controls,
    stage: resource?.stage ?? violation.stage ?? '',
    resource: resource ? label(resource) : 'template',
    path: resource ? `${resource.templatePath}.${violation.path}` : violation.path,
    message: rule.message,
    detail: violation.detail,
    fix: rule.fix,
  };
}

function declaredOnly(template: unknown, parameters: Record<string, unknown>): Record<string, unknown> {
  const declared =
    isRecord(template) && isRecord(template.parameters) ? Object.keys(template.parameters) : [];
  const wanted = new Set(declared.map((name) => name.toLowerCase()));
  return Object.fromEntries(Object.entries(parameters).filter(([name]) => wanted.has(name.toLowerCase())));
}
