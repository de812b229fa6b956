import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { policyRules } from '../../../../src/core/provisioning/index.js';

const doc = readFileSync(join(import.meta.dirname, '../../../../docs/security-baseline.md'), 'utf8');
const ruleIds = new Set(policyRules.map((rule) => rule.id));
const ruleIdPattern = /\b[A-Z]{2,4}-\d{2}\b/g;
const mappingRows = doc
  .slice(doc.indexOf('## Hardening items'), doc.indexOf('## What Vigil does not cover'))
  .split('\n')
  .filter(
    (line) => line.startsWith('| ') && !line.startsWith('| Hardening item') && !line.startsWith('| ---'),
  );

describe('docs/security-baseline.md', () => {
  it('names only rule ids that exist in the catalogue', () => {
    const named = [...doc.matchAll(ruleIdPattern)].map((match) => match[0]);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((id) => !ruleIds.has(id))).toEqual([]);
  });

  it.each(mappingRows)('row names an existing rule: %s', (row) => {
    const ids = row.split('|').at(-2)?.match(ruleIdPattern) ?? [];
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(ruleIds).toContain(id);
  });

  it.each([
    'Private networking',
    'NSGs',
    'Storage firewall',
    'PostgreSQL Entra auth and TLS',
    'Diagnostic logging',
    'Soft delete and point-in-time restore',
    'Least-privilege RBAC',
    'Image scanning',
    'Secret rotation',
  ])('maps the hardening item "%s"', (item) => {
    expect(mappingRows.some((row) => row.startsWith(`| ${item} |`))).toBe(true);
  });

  it('accounts for every rule of the catalogue and says what Vigil does not cover', () => {
    const documented = new Set(mappingRows.flatMap((row) => row.match(ruleIdPattern) ?? []));
    expect([...ruleIds].filter((id) => !documented.has(id))).toEqual([]);
    expect(doc).toContain('## What Vigil does not cover');
  });
});
