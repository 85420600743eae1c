import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MetricsLog } from '../../src/train/metrics.js';

const dir = mkdtempSync(join(tmpdir(), 'gamba-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('metrics.jsonl', () => {
  it('appends one JSON object per line and drops lines past a checkpoint, torn ones included', () => {
    const log = new MetricsLog(join(dir, 'metrics.jsonl'));
    for (let step = 1; step <= 5; step++) log.append({ step, loss: 4 - step / 10, lr: 0.001, gradNorm: 1.5, tokensPerSec: 1000, ...(step === 3 ? { valLoss: 3.5 } : {}) });
    const lines = readFileSync(log.path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[2])).toEqual({ step: 3, loss: 3.7, lr: 0.001, gradNorm: 1.5, tokensPerSec: 1000, valLoss: 3.5 });
    writeFileSync(log.path, readFileSync(log.path, 'utf8') + '{"step":6,"lo');
    log.truncateAfter(3);
    expect(log.read().map((m) => m.step)).toEqual([1, 2, 3]);
  });
});
