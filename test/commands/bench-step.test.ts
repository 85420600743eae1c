/**
 * `gamba bench step` on the cpu backend: a Mamba and a transformer preset stepped token by token, their
 * tokens/s that of `batch` tokens a step, and a size that is no count refused in one line.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { gamba, requireBuiltCli } from '../cli-runner.js';

beforeAll(() => requireBuiltCli());

describe('gamba bench step', () => {
  for (const [preset, architecture] of [['tiny', 'mamba'], ['quickstart-gpt', 'transformer']]) {
    it(`times step() of ${preset} (${architecture})`, () => {
      const run = gamba('bench', 'step', '--preset', preset, '--backend', 'cpu', '--batch', '3', '--tokens', '4', '--json');
      expect(run.status, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result).toMatchObject({ preset, architecture, backend: 'cpu', adapter: null, batch: 3, tokens: 4 });
      expect(result.parameters).toBeGreaterThan(0);
      expect(result.stepMs).toBeGreaterThan(0);
      // 3 tokens a step (stepMs is rounded to the microsecond)
      expect(Math.abs(result.tokensPerSec - 3000 / result.stepMs)).toBeLessThanOrEqual(1 + 3000 / result.stepMs * (0.0005 / result.stepMs));
    });
  }

  it('refuses a batch that is not a positive count, in one line', () => {
    const run = gamba('bench', 'step', '--preset', 'tiny', '--backend', 'cpu', '--batch', '0');
    expect(run.status).not.toBe(0);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^gamba: --batch: expected an integer from 1/)]);
  });
});
