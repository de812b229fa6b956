import { describe, expect, it } from 'vitest';
import { policyRules } from '../../../../src/core/provisioning/index.js';
import { satisfied, violations } from './ruleCases.js';
import { gateAfter } from './shippedEnvironment.js';

describe('cross-resource and template rules', () => {
  it.each(violations)('$ruleId refuses $change', ({ ruleId, apply, profile, detail }) => {
    const findings = gateAfter(apply, profile).filter((finding) => finding.ruleId === ruleId);
    expect(findings.length).toBeGreaterThan(0);
    expect(findings[0]?.message).toBe(policyRules.find((rule) => rule.id === ruleId)?.message);
    if (detail) expect(findings.map((finding) => finding.detail).join('\n')).toMatch(detail);
  });

  it.each(satisfied)('$ruleId accepts $change', ({ ruleId, apply, profile }) => {
    expect(gateAfter(apply, profile).filter((finding) => finding.ruleId === ruleId)).toEqual([]);
  });
});
