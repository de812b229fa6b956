import { describe, expect, it } from 'vitest';
import { type Finding, policyRules } from '../../../../src/core/provisioning/index.js';
import { asExpression, mutate, propertyMutations, violations } from './ruleCases.js';
import { gateAfter } from './shippedEnvironment.js';

const rule = (id: string) => policyRules.find((candidate) => candidate.id === id);
const withId = (findings: Finding[], id: string) => findings.filter((finding) => finding.ruleId === id);

describe('policy gate over the shipped environment', () => {
  it.each(['dev', 'prod'] as const)('passes the shipped templates with zero findings in %s', (profile) => {
    expect(gateAfter(() => undefined, profile)).toEqual([]);
  });

  it('catalogues at least the nineteen baseline rules, each with control, severity, message and fix', () => {
    expect(policyRules.length).toBeGreaterThanOrEqual(19);
    for (const entry of policyRules) {
      expect(entry.id).toMatch(/^[A-Z]+-\d{2}$/);
      expect(entry.message.length).toBeGreaterThan(10);
      expect(entry.fix.length).toBeGreaterThan(10);
    }
    expect(new Set(policyRules.map((entry) => entry.id)).size).toBe(policyRules.length);
  });
});

describe('changing one security property of a shipped template', () => {
  it.each(propertyMutations)('$ruleId catches $path = $insecure ($type $nameHint)', (mutation) => {
    const findings = gateAfter(mutate(mutation, mutation.insecure), mutation.profile);
    const hits = withId(findings, mutation.ruleId);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits[0]?.message).toBe(rule(mutation.ruleId)?.message);
    expect(hits.some((hit) => hit.path.includes(mutation.path) || hit.detail.includes(mutation.path))).toBe(
      true,
    );
  });

  it.each(propertyMutations.filter((mutation) => mutation.literal !== false))(
    'GEN-01 catches $path written as an expression ($ruleId)',
    (mutation) => {
      const findings = gateAfter(asExpression(mutation), mutation.profile);
      const literal = withId(findings, 'GEN-01');
      expect(literal).toHaveLength(1);
      expect(literal[0]?.path).toMatch(new RegExp(`${mutation.path.replace(/[.[\]]/g, '\\$&')}$`));
      expect(literal[0]?.detail).toContain(`${mutation.ruleId} needs a literal here`);
      expect(withId(findings, mutation.ruleId)).toEqual([]);
    },
  );
});

describe('rule tables', () => {
  it.each(policyRules.map((rule) => rule.id))('%s has a violating case', (ruleId) => {
    const covered = new Set([...propertyMutations, ...violations].map((entry) => entry.ruleId));
    expect(covered.has(ruleId)).toBe(true);
  });
});
