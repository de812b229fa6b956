/**
 * A value ARM only knows while deploying: a `reference()` result, or a secure parameter, which the
 * gate deliberately never reads. Rules that meet one cannot verify the property and say so.
 * @example
 * const principalId = new DeployTimeValue("reference('id-app').principalId");
 * String(principalId); // "<deploy-time value: reference('id-app').principalId>"
 */
export class DeployTimeValue {
  readonly description: string;
  constructor(description: string) {
    this.description = description;
  }

  toString(): string {
    return `<deploy-time value: ${this.description}>`;
  }

  toJSON(): string {
    return this.toString();
  }
}
