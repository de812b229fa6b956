/** An ARM expression could not be parsed or evaluated; `path` names where in the template it sits. */
export class TemplateExpressionError extends Error {
  override name = 'TemplateExpressionError';
  readonly path: string;
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(`${path}: ${message}`, options);
    this.path = path;
  }
}

/** A template or parameter file does not have the structure the schema requires. */
export class TemplateStructureError extends Error {
  override name = 'TemplateStructureError';
  readonly problems: string[];
  constructor(source: string, problems: string[], options?: ErrorOptions) {
    super(`${source} is not a valid deployment template: ${problems.join('; ')}`, options);
    this.problems = problems;
  }
}

/** The stage manifest names unknown stages, repeats a stage or has a dependency cycle. */
export class StageManifestError extends Error {
  override name = 'StageManifestError';
  readonly problems: string[];
  constructor(problems: string[], options?: ErrorOptions) {
    super(`Invalid stage manifest: ${problems.join('; ')}`, options);
    this.problems = problems;
  }
}
