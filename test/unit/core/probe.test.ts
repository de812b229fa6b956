import { describe, expect, it } from 'vitest';
import { ProbeRequestError, parseProbeRequest, probeInstanceId } from '../../../src/core/probe.js';

describe('parseProbeRequest', () => {
  it('applies the default acknowledgement timeout', () => {
    expect(parseProbeRequest({ probeId: 'p-1' })).toEqual({ probeId: 'p-1', ackTimeoutMinutes: 60 });
  });

  it.each([
    [undefined, 'data must be an object'],
    [{}, 'probeId'],
    [{ probeId: 'has space' }, 'probeId must be 1-64 letters, digits or dashes'],
    [{ probeId: 'p', ackTimeoutMinutes: 0 }, 'ackTimeoutMinutes'],
    [{ probeId: 'p', ackTimeoutMinutes: 1.5 }, 'ackTimeoutMinutes'],
  ])('rejects %o naming the field', (data, problem) => {
    expect(() => parseProbeRequest(data)).toThrow(ProbeRequestError);
    expect(() => parseProbeRequest(data)).toThrow(problem);
  });
});

describe('probeInstanceId', () => {
  it('is the same for the same probe, so a redelivered event joins the running probe', () => {
    expect(probeInstanceId('p-1')).toBe(probeInstanceId('p-1'));
    expect(probeInstanceId('p-1')).not.toBe(probeInstanceId('p-2'));
  });
});
