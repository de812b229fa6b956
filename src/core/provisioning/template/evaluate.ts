import { TemplateExpressionError } from '../errors.js';
import { DeployTimeValue } from './deployTimeValue.js';
import { isExpression, parseExpression, unescapeLiteral } from './expression.js';
import { type ExpressionContext, evaluateExpression, isRecord } from './functions.js';
import {
  checkParameterValue,
  isSecureType,
  type ParameterDeclaration,
  parameterValuesFromFile,
} from './parameters.js';
import { type DeploymentScope, resourceGroupId, resourceGroupResourceId } from './resourceIds.js';

/** A resource as it would be deployed: its template text next to the values the expressions give. */
export interface ResolvedResource {
  /** The deployment stage (or label) whose template declares it. */
  stage: string;
  /** JSON path of the declaration, e.g. `resources[2].resources[0]`. */
  templatePath: string;
  type: string;
  apiVersion: string;
  name: string;
  id: string;
  /** For extension resources (diagnostic settings, role assignments): the id they attach to. */
  scope?: string;
  /** The declaration as written, so rules can tell a literal from an expression. */
  raw: Record<string, unknown>;
  /** The declaration with every expression evaluated (deploy-time values stay opaque). */
  value: Record<string, unknown>;
}

/** A template (the root or a nested deployment's) as written, for rules that read declarations. */
export interface TemplateSource {
  stage: string;
  path: string;
  template: Record<string, unknown>;
}

/** Something that kept the gate from evaluating part of a template; the gate fails closed on it. */
export interface EvaluationProblem {
  stage: string;
  path: string;
  message: string;
}

export interface ResolvedTemplate {
  resources: ResolvedResource[];
  templates: TemplateSource[];
  problems: EvaluationProblem[];
}

/**
 * Evaluates a template with its parameter values the way ARM would before deploying: parameters
 * (checked against their declarations), variables, conditions, child resources and inline nested
 * deployments. Secure parameters are never read; they stay deploy-time values.
 * @example
 * const { resources, problems } = resolveTemplate(template, { environmentName: 'demo', profile: 'dev' }, scope, 'network');
 */
export function resolveTemplate(
  template: unknown,
  parameters: Record<string, unknown>,
  scope: DeploymentScope,
  stage: string,
): ResolvedTemplate {
  const result: ResolvedTemplate = { resources: [], templates: [], problems: [] };
  if (!isRecord(template)) {
    result.problems.push({ stage, path: '$', message: 'the template must be a JSON object' });
    return result;
  }
  const walker = new TemplateWalker(stage, scope, result);
  walker.template(template, '', walker.rootContext(template, parameters, ''));
  return result;
}

class TemplateWalker {
  readonly #stage: string;
  readonly #scope: DeploymentScope;
  readonly #result: ResolvedTemplate;

  constructor(stage: string, scope: DeploymentScope, result: ResolvedTemplate) {
    this.#stage = stage;
    this.#scope = scope;
    this.#result = result;
  }

  rootContext(template: Record<string, unknown>, supplied: Record<string, unknown>, path: string) {
    return new TemplateContext(template, supplied, this.#scope, path, (problem) => this.#problem(problem));
  }

  template(template: Record<string, unknown>, path: string, context: TemplateContext): void {
    this.#result.templates.push({ stage: this.#stage, path: path || '$', template });
    context.checkParameters();
    const resources = template.resources ?? [];
    if (!Array.isArray(resources)) {
      this.#problem({ path: join(path, 'resources'), message: 'resources must be an array' });
      return;
    }
    resources.forEach((raw, index) => {
      this.#resource(raw, join(path, `resources[${index}]`), context, undefined);
    });
  }

  #resource(
    raw: unknown,
    path: string,
    context: TemplateContext,
    parent: ResolvedResource | undefined,
  ): void {
    try {
      if (!isRecord(raw)) throw new TemplateExpressionError(path, 'a resource must be a JSON object');
      if ('copy' in raw) {
        throw new TemplateExpressionError(
          path,
          'resource copy loops are not evaluated by the policy gate; unroll them',
        );
      }
      if ('condition' in raw && !this.#conditionHolds(raw.condition, join(path, 'condition'), context))
        return;
      const resource = this.#declare(raw, path, context, parent);
      this.#result.resources.push(resource);
      this.#nestedDeployment(resource, context);
      const children = raw.resources ?? [];
      if (!Array.isArray(children)) throw new TemplateExpressionError(path, 'resources must be an array');
      children.forEach((child, index) => {
        this.#resource(child, join(path, `resources[${index}]`), context, resource);
      });
    } catch (error) {
      if (!(error instanceof TemplateExpressionError)) throw error;
      this.#problem({ path: error.path, message: error.message.slice(error.path.length + 2) });
    }
  }

  #conditionHolds(condition: unknown, path: string, context: TemplateContext): boolean {
    const value = context.resolve(condition, path);
    if (typeof value !== 'boolean') {
      throw new TemplateExpressionError(path, 'the condition must evaluate to a bool before deployment');
    }
    return value;
  }

  #declare(
    raw: Record<string, unknown>,
    path: string,
    context: TemplateContext,
    parent: ResolvedResource | undefined,
  ): ResolvedResource {
    const type = requireString(context.resolve(raw.type, join(path, 'type')), join(path, 'type'));
    const name = requireString(context.resolve(raw.name, join(path, 'name')), join(path, 'name'));
    const apiVersion = requireString(
      context.resolve(raw.apiVersion, join(path, 'apiVersion')),
      join(path, 'apiVersion'),
    );
    const fullType = parent && !type.includes('/') ? `${parent.type}/${type}` : type;
    const fullName = parent && !type.includes('/') ? `${parent.name}/${name}` : name;
    const scope =
      'scope' in raw ? this.#scopeId(context.resolve(raw.scope, join(path, 'scope')), path) : undefined;
    const value = context.resolveResourceBody(raw, path);
    let id: string;
    try {
      id = scope
        ? `${scope}/providers/${fullType}/${fullName}`
        : resourceGroupResourceId(this.#scope, fullType, [fullName]);
    } catch (error) {
      throw new TemplateExpressionError(join(path, 'name'), (error as Error).message, { cause: error });
    }
    return {
      stage: this.#stage,
      templatePath: path,
      type: fullType,
      apiVersion,
      name: fullName,
      id,
      raw,
      value,
      ...(scope && { scope }),
    };
  }

  #scopeId(scope: unknown, path: string): string {
    const id = requireString(scope, join(path, 'scope'));
    // ARM accepts a scope relative to the resource group: 'Microsoft.Storage/storageAccounts/name'.
    return id.startsWith('/') ? id : `${resourceGroupId(this.#scope)}/providers/${id}`;
  }

  #nestedDeployment(deployment: ResolvedResource, outer: TemplateContext): void {
    if (deployment.type.toLowerCase() !== 'microsoft.resources/deployments') return;
    const properties = isRecord(deployment.raw.properties) ? deployment.raw.properties : {};
    const resolved = isRecord(deployment.value.properties) ? deployment.value.properties : {};
    const path = join(deployment.templatePath, 'properties');
    if ('templateLink' in properties) {
      throw new TemplateExpressionError(
        join(path, 'templateLink'),
        'linked templates are not evaluated by the policy gate; inline the template',
      );
    }
    if (!isRecord(properties.template)) {
      throw new TemplateExpressionError(
        join(path, 'template'),
        'a nested deployment needs an inline template',
      );
    }
    const options = isRecord(resolved.expressionEvaluationOptions)
      ? resolved.expressionEvaluationOptions
      : {};
    const inner = String(options.scope ?? 'outer').toLowerCase() === 'inner';
    const templatePath = join(path, 'template');
    const context = inner
      ? new TemplateContext(
          properties.template,
          parameterValuesFromFile({ parameters: resolved.parameters }),
          this.#scope,
          templatePath,
          (problem) => this.#problem(problem),
        )
      : outer.forNestedOuterScope(templatePath);
    this.template(properties.template, templatePath, context);
  }

  #problem(problem: { path: string; message: string }): void {
    this.#result.problems.push({ stage: this.#stage, path: problem.path || '$', message: problem.message });
  }
}

/** Parameters and variables of one template, evaluated lazily so declaration order does not matter. */
class TemplateContext implements ExpressionContext {
  readonly scope: DeploymentScope;
  readonly #template: Record<string, unknown>;
  readonly #supplied: Map<string, unknown>;
  readonly #path: string;
  readonly #report: (problem: { path: string; message: string }) => void;
  readonly #parameters = new Map<string, unknown>();
  readonly #variables = new Map<string, unknown>();
  readonly #evaluating = new Set<string>();
  readonly #outer: TemplateContext | undefined;

  constructor(
    template: Record<string, unknown>,
    supplied: Record<string, unknown>,
    scope: DeploymentScope,
    path: string,
    report: (problem: { path: string; message: string }) => void,
    outer?: TemplateContext,
  ) {
    this.#outer = outer;
    this.#template = template;
    this.#supplied = new Map(Object.entries(supplied).map(([name, value]) => [name.toLowerCase(), value]));
    this.scope = scope;
    this.#path = path;
    this.#report = report;
  }

  forNestedOuterScope(path: string): TemplateContext {
    // Outer scope: the nested template sees the parent's parameters and variables, as in ARM.
    return new TemplateContext(this.#template, {}, this.scope, path, this.#report, this);
  }

  /** Reports parameters that are missing, undeclared or outside their constraints. */
  checkParameters(): void {
    if (this.#outer) return;
    const declared = this.#declarations();
    for (const name of this.#supplied.keys()) {
      if (!declared.has(name)) {
        this.#report({
          path: join(this.#path, 'parameters'),
          message: `parameter '${name}' is not declared`,
        });
      }
    }
    for (const [key, { name }] of declared) {
      try {
        this.#parameterValue(key, name);
      } catch (error) {
        if (!(error instanceof TemplateExpressionError)) throw error;
        this.#report({ path: error.path, message: error.message.slice(error.path.length + 2) });
      }
    }
  }

  parameter(name: string): unknown {
    if (this.#outer) return this.#outer.parameter(name);
    const declaration = this.#declarations().get(name.toLowerCase());
    if (!declaration) throw new TypeError(`parameter '${name}' is not declared`);
    return this.#parameterValue(name.toLowerCase(), declaration.name);
  }

  variable(name: string): unknown {
    if (this.#outer) return this.#outer.variable(name);
    const key = name.toLowerCase();
    if (this.#variables.has(key)) return this.#variables.get(key);
    const variables = isRecord(this.#template.variables) ? this.#template.variables : {};
    const found = Object.keys(variables).find((candidate) => candidate.toLowerCase() === key);
    if (found === undefined) throw new TypeError(`variable '${name}' is not declared`);
    const value = this.#guarded(`variables.${found}`, () =>
      this.resolve(variables[found], join(this.#path, `variables.${found}`)),
    );
    this.#variables.set(key, value);
    return value;
  }

  /** Evaluates every expression in a value; a failure names the JSON path where it happened. */
  resolve(raw: unknown, path: string): unknown {
    if (typeof raw === 'string') return this.#resolveString(raw, path);
    if (Array.isArray(raw)) return raw.map((item, index) => this.resolve(item, `${path}[${index}]`));
    if (!isRecord(raw)) return raw;
    if ('copy' in raw && Array.isArray(raw.copy)) {
      throw new TemplateExpressionError(
        join(path, 'copy'),
        'property copy loops are not evaluated by the policy gate',
      );
    }
    const resolved: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) {
      const resolvedKey = this.#resolveString(key, join(path, key));
      if (typeof resolvedKey !== 'string') {
        throw new TemplateExpressionError(
          join(path, key),
          'a property name must evaluate to a string before deployment',
        );
      }
      resolved[resolvedKey] = this.resolve(value, join(path, key));
    }
    return resolved;
  }

  /** A resource's body, minus child resources and a nested deployment's template (evaluated separately). */
  resolveResourceBody(raw: Record<string, unknown>, path: string): Record<string, unknown> {
    const { resources: _children, ...body } = raw;
    const properties = body.properties;
    if (isRecord(properties) && 'template' in properties) {
      const { template, ...rest } = properties;
      const resolved = this.resolve({ ...body, properties: rest }, path) as Record<string, unknown>;
      return { ...resolved, properties: { ...(resolved.properties as Record<string, unknown>), template } };
    }
    return this.resolve(body, path) as Record<string, unknown>;
  }

  #resolveString(raw: string, path: string): unknown {
    if (!isExpression(raw)) return unescapeLiteral(raw);
    try {
      return evaluateExpression(parseExpression(raw), this);
    } catch (error) {
      if (error instanceof TemplateExpressionError) throw error;
      throw new TemplateExpressionError(path, `${(error as Error).message} in ${raw}`, { cause: error });
    }
  }

  #declarations(): Map<string, { name: string; declaration: ParameterDeclaration }> {
    const parameters = isRecord(this.#template.parameters) ? this.#template.parameters : {};
    return new Map(
      Object.entries(parameters)
        .filter(
          (entry): entry is [string, ParameterDeclaration] =>
            isRecord(entry[1]) && typeof entry[1].type === 'string',
        )
        .map(([name, declaration]) => [name.toLowerCase(), { name, declaration }]),
    );
  }

  #parameterValue(key: string, name: string): unknown {
    if (this.#parameters.has(key)) return this.#parameters.get(key);
    const declaration = this.#declarations().get(key)?.declaration;
    if (!declaration) throw new TypeError(`parameter '${name}' is not declared`);
    const path = join(this.#path, `parameters.${name}`);
    const value = this.#guarded(`parameters.${name}`, () => {
      if (isSecureType(declaration.type)) return new DeployTimeValue(`secure parameter '${name}'`);
      if (this.#supplied.has(key)) return this.#supplied.get(key);
      if ('defaultValue' in declaration)
        return this.resolve(declaration.defaultValue, join(path, 'defaultValue'));
      throw new TemplateExpressionError(path, `parameter '${name}' has no value and no defaultValue`);
    });
    const problems = checkParameterValue(name, declaration, value);
    if (problems.length > 0) throw new TemplateExpressionError(path, problems.join('; '));
    this.#parameters.set(key, value);
    return value;
  }

  #guarded(key: string, evaluate: () => unknown): unknown {
    if (this.#evaluating.has(key)) {
      throw new TemplateExpressionError(join(this.#path, key), `${key} refers to itself`);
    }
    this.#evaluating.add(key);
    try {
      return evaluate();
    } finally {
      this.#evaluating.delete(key);
    }
  }
}

function requireString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TemplateExpressionError(path, 'must evaluate to a non-empty string before deployment');
  }
  return value;
}

function join(base: string, key: string): string {
  if (!base) return key;
  return key.startsWith('[') ? `${base}${key}` : `${base}.${key}`;
}
