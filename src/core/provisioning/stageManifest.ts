import { StageManifestError } from './errors.js';

/** One deployment stage: its template file and the stages that must finish first. */
export interface Stage {
  name: string;
  template: string;
  dependsOn: string[];
}

export interface StageManifest {
  stages: Stage[];
}

/**
 * Checks the stage graph: unique names, known dependencies, no cycles. Structure (field types) is
 * the schema's job; this is what a schema cannot say.
 * @example
 * checkStageGraph({ stages: [{ name: 'a', template: 'a.json', dependsOn: ['b'] }] });
 * // throws StageManifestError: stage 'a' depends on unknown stage 'b'
 */
export function checkStageGraph(manifest: StageManifest): void {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const stage of manifest.stages) {
    if (names.has(stage.name)) problems.push(`stage '${stage.name}' is declared twice`);
    names.add(stage.name);
  }
  for (const stage of manifest.stages) {
    for (const dependency of stage.dependsOn) {
      if (!names.has(dependency))
        problems.push(`stage '${stage.name}' depends on unknown stage '${dependency}'`);
    }
  }
  if (problems.length === 0) deploymentWaves(manifest, problems);
  if (problems.length > 0) throw new StageManifestError(problems);
}

/**
 * Orders stages into waves: every stage in a wave depends only on earlier waves, so a wave's stages
 * can deploy in parallel. Throws on an unknown dependency or a cycle.
 * @example
 * stageWaves({ stages: [{ name: 'net', template: 'n.json', dependsOn: [] }, { name: 'kv', template: 'k.json', dependsOn: ['net'] }] });
 * // [['net'], ['kv']]
 */
export function stageWaves(manifest: StageManifest): string[][] {
  checkStageGraph(manifest);
  return deploymentWaves(manifest, []);
}

function deploymentWaves(manifest: StageManifest, problems: string[]): string[][] {
  const waves: string[][] = [];
  const done = new Set<string>();
  let pending = manifest.stages;
  while (pending.length > 0) {
    const ready = pending.filter((stage) => stage.dependsOn.every((dependency) => done.has(dependency)));
    if (ready.length === 0) {
      problems.push(`stages ${pending.map((stage) => `'${stage.name}'`).join(', ')} form a dependency cycle`);
      return waves;
    }
    waves.push(ready.map((stage) => stage.name));
    for (const stage of ready) done.add(stage.name);
    pending = pending.filter((stage) => !done.has(stage.name));
  }
  return waves;
}
