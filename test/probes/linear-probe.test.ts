import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyProbe } from '../../probes/device-probe.js';
import { loadProbe, saveProbe, zeroProbe } from '../../probes/linear-probe.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { Rng } from '../../src/util/rng.js';

const dir = mkdtempSync(join(tmpdir(), 'gamba-probe-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('probe files', () => {
  const rng = new Rng(4);
  const probe = zeroProbe(24, 3, { target: 'mine-theirs', source: 'state', layer: '2' });
  for (const t of [probe.mean, probe.invStd, probe.weight, probe.bias]) for (let i = 0; i < t.length; i++) t[i] = rng.normal();

  it('round-trips every value and the metadata, and decodes the same boards', async () => {
    const path = join(dir, 'p.safetensors');
    saveProbe(path, probe);
    const back = loadProbe(path);
    expect(back.dim).toBe(24);
    expect(back.classes).toBe(3);
    expect(back.meta).toEqual({ target: 'mine-theirs', source: 'state', layer: '2' });
    for (const key of ['mean', 'invStd', 'weight', 'bias'] as const) expect(Buffer.from(back[key].buffer).equals(Buffer.from(probe[key].buffer))).toBe(true);
    const x = new Float32Array(5 * 24).map(() => rng.normal());
    const be = new CpuBackend();
    expect(Array.from(await applyProbe(be, back, x, 5))).toEqual(Array.from(await applyProbe(be, probe, x, 5)));
  });

  it('refuses a truncated file and a file that is not a probe, naming it', () => {
    const path = join(dir, 'cut.safetensors');
    saveProbe(path, probe);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 10));
    expect(() => loadProbe(path)).toThrow(new RegExp(`^${path}: not a valid safetensors file: .*truncated`));
    expect(() => loadProbe(join(dir, 'missing.safetensors'))).toThrow(/missing\.safetensors: cannot read probe file \(ENOENT\)/);
  });
});
