/**
 * Provisioning core: the stage graph, template structure checks and the policy gate that refuses
 * an insecure environment before anything is deployed. Pure: callers read files and pass JSON in.
 */
export { StageManifestError, TemplateExpressionError, TemplateStructureError } from './errors.js';
export { policyRules } from './policy/catalogue.js';
export {
  evaluateEnvironment,
  evaluateTemplate,
  type GateOptions,
  type StageTemplate,
} from './policy/gate.js';
export type { Finding, PolicyRule, Profile, Severity } from './policy/types.js';
export { checkStageGraph, type Stage, type StageManifest, stageWaves } from './stageManifest.js';
export { DeployTimeValue } from './template/deployTimeValue.js';
export { parameterValuesFromFile } from './template/parameters.js';
export type { DeploymentScope } from './template/resourceIds.js';
export { assertStructure, createStructureValidator, type StructureValidator } from './templateStructure.js';
