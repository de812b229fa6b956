/** A parsed ARM template language expression (the part between `[` and `]`). */
export type Expression =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'call'; name: string; args: Expression[] }
  | { kind: 'member'; target: Expression; property: string }
  | { kind: 'index'; target: Expression; index: Expression };

/**
 * Whether a template string is an expression. `[[` escapes a literal string that starts with `[`.
 * @example
 * isExpression("[parameters('location')]"); // true
 * isExpression('[[not an expression]'); // false
 */
export function isExpression(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('[') && value.endsWith(']') && !value.startsWith('[[');
}

/**
 * The literal a template string stands for: `[[x]` is the string `[x]`.
 * @example
 * unescapeLiteral('[[x]'); // '[x]'
 */
export function unescapeLiteral(value: string): string {
  return value.startsWith('[[') ? value.slice(1) : value;
}

/**
 * Parses an expression string such as `[format('{0}-x', parameters('name'))]`.
 * Throws a `SyntaxError` saying where the text stops making sense.
 * @example
 * parseExpression("[resourceGroup().location]");
 * // { kind: 'member', target: { kind: 'call', name: 'resourceGroup', args: [] }, property: 'location' }
 */
export function parseExpression(text: string): Expression {
  if (!isExpression(text)) throw new SyntaxError(`not an expression: ${text}`);
  const parser = new Parser(text.slice(1, -1));
  const expression = parser.expression();
  parser.end();
  return expression;
}

class Parser {
  #position = 0;
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  expression(): Expression {
    let target = this.#primary();
    for (;;) {
      this.#skipSpace();
      const next = this.#text[this.#position];
      if (next === '.') {
        this.#position += 1;
        target = { kind: 'member', target, property: this.#identifier() };
      } else if (next === '[') {
        this.#position += 1;
        const index = this.expression();
        this.#expect(']');
        target = { kind: 'index', target, index };
      } else {
        return target;
      }
    }
  }

  end(): void {
    this.#skipSpace();
    if (this.#position < this.#text.length) this.#fail('unexpected text');
  }

  #primary(): Expression {
    this.#skipSpace();
    const next = this.#text[this.#position] ?? '';
    if (next === "'") return { kind: 'string', value: this.#string() };
    if (/[-0-9]/.test(next)) return { kind: 'number', value: this.#number() };
    const name = this.#identifier();
    this.#skipSpace();
    if (this.#text[this.#position] !== '(') {
      // Bare true/false/null read as their functions; anything else is a typo worth naming.
      if (['true', 'false', 'null'].includes(name.toLowerCase())) return { kind: 'call', name, args: [] };
      this.#fail(`expected '(' after ${name}`);
    }
    this.#position += 1;
    return { kind: 'call', name, args: this.#arguments() };
  }

  #arguments(): Expression[] {
    const args: Expression[] = [];
    this.#skipSpace();
    if (this.#text[this.#position] === ')') {
      this.#position += 1;
      return args;
    }
    for (;;) {
      args.push(this.expression());
      this.#skipSpace();
      const next = this.#text[this.#position];
      this.#position += 1;
      if (next === ')') return args;
      if (next !== ',') this.#fail("expected ',' or ')'", -1);
    }
  }

  #string(): string {
    let value = '';
    this.#position += 1;
    for (;;) {
      const next = this.#text[this.#position];
      if (next === undefined) this.#fail('unterminated string');
      this.#position += 1;
      if (next === "'") {
        if (this.#text[this.#position] !== "'") return value;
        this.#position += 1;
      }
      value += next;
    }
  }

  #number(): number {
    const match = /^-?[0-9]+/.exec(this.#text.slice(this.#position));
    if (!match) this.#fail('expected a number');
    this.#position += match[0].length;
    return Number(match[0]);
  }

  #identifier(): string {
    this.#skipSpace();
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.#text.slice(this.#position));
    if (!match) this.#fail('expected a name');
    this.#position += match[0].length;
    return match[0];
  }

  #expect(token: string): void {
    this.#skipSpace();
    if (this.#text[this.#position] !== token) this.#fail(`expected '${token}'`);
    this.#position += 1;
  }

  #skipSpace(): void {
    while (this.#text[this.#position] === ' ') this.#position += 1;
  }

  #fail(message: string, offset = 0): never {
    throw new SyntaxError(`${message} at character ${this.#position + offset + 2}`);
  }
}
