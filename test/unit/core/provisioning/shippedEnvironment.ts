import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  evaluateEnvironment,
  type Finding,
  type Profile,
  parameterValuesFromFile,
  type StageTemplate,
} from '../../../../src/core/provisioning/index.js';

export const environmentDir = join(import.meta.dirname, '../../../../infra/environment');

type Json = Record<string, unknown>;

/** The shipped stages, read fresh so each test can change its own copy. */
export function shippedStages(): StageTemplate[] {
  const manifest = readJson(join(environmentDir, 'stages.json')) as {
    stages: { name: string; template: string }[];
  };
  return manifest.stages.map((stage) => ({
    name: stage.name,
    template: readJson(join(environmentDir, stage.template)),
  }));
}

export function shippedParameters(profile: Profile): Record<string, unknown> {
  return parameterValuesFromFile(readJson(join(environmentDir, 'parameters', `${profile}.json`)));
}

/** Runs the gate over the shipped environment after `change` edits a copy of it. */
export function gateAfter(change: (stages: Stages) => void, profile: Profile = 'dev'): Finding[] {
  const stages = shippedStages();
  change(new Stages(stages));
  return evaluateEnvironment(stages, shippedParameters(profile), { profile });
}

/** Edits a copy of the shipped templates by stage name and resource type. */
export class Stages {
  readonly #stages: StageTemplate[];
  constructor(stages: StageTemplate[]) {
    this.#stages = stages;
  }

  template(stage: string): Json {
    const found = this.#stages.find((candidate) => candidate.name === stage);
    if (!found) throw new Error(`no stage ${stage}`);
    return found.template as Json;
  }

  resources(stage: string): Json[] {
    return this.template(stage).resources as Json[];
  }

  /** The nth top-level resource of a type whose name expression contains `nameHint`. */
  resource(stage: string, type: string, nameHint = '', index = 0): Json {
    const found = this.resources(stage).filter((r) => r.type === type && String(r.name).includes(nameHint))[
      index
    ];
    if (!found) throw new Error(`no ${type} ${nameHint} in ${stage}`);
    return found;
  }

  remove(stage: string, predicate: (resource: Json) => boolean): void {
    const resources = this.resources(stage);
    const index = resources.findIndex(predicate);
    if (index < 0) throw new Error(`nothing to remove in ${stage}`);
    resources.splice(index, 1);
  }
}

/** Reads a dotted path (`a.b[0].c`) from JSON. */
export function getPath(target: Json, path: string): unknown {
  return segments(path).reduce<unknown>(
    (node, key) => (node as Record<string | number, unknown>)?.[key],
    target,
  );
}

/** Writes a dotted path, creating objects on the way; `undefined` deletes the property. */
export function setPath(target: Json, path: string, value: unknown): void {
  const keys = segments(path);
  const last = keys.pop();
  if (last === undefined) throw new Error('empty path');
  let node = target as Record<string | number, unknown>;
  for (const key of keys) {
    node[key] ??= {};
    node = node[key] as Record<string | number, unknown>;
  }
  if (value === undefined) delete node[last];
  else node[last] = value;
}

function segments(path: string): (string | number)[] {
  return path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .map((key) => (/^\d+$/.test(key) ? Number(key) : key));
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}
