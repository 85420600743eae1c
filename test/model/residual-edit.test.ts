/**
 * step()'s residual observer may replace the stream it sees, for both architectures: handing back x
 * (or an equal copy) changes no bit of the logits, a replacement at the last layer gives exactly the
 * readout of the replacement, an edit at an earlier layer changes what follows, and a replacement of
 * another shape is refused. A Mamba's state editor adds its edit to the state, and the step's output
 * and the later steps follow it.
 */
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { configFromPreset } from '../../src/model/config.js';
import type { MambaLM } from '../../src/model/mamba.js';
import { createModel, initModelParameters } from '../../src/model/models.js';
import { Rng } from '../../src/util/rng.js';

const be = new CpuBackend({ threads: 1 });
const TOKENS = [19, 37, 20, 44];

for (const preset of ['tiny', 'quickstart-gpt']) {
  describe(`step() with an edited residual stream (${preset})`, () => {
    const config = configFromPreset(preset, 61, 59);
    const model = createModel(be, config, initModelParameters(config, new Rng(3, 1)));
    const L = config.n_layers;

    /** Logits after feeding TOKENS to 2 sequences, the observer seeing only the last token's step. */
    async function logitsWith(onResidual?: (layer: number, x: Tensor) => Tensor | void): Promise<Float32Array> {
      const state = model.newStepState(2);
      let logits = new Float32Array(0);
      for (const [t, token] of TOKENS.entries()) logits = await model.step(state, Int32Array.from([token, token + 1]), t === TOKENS.length - 1 ? onResidual : undefined);
      model.disposeStepState(state);
      return logits;
    }

    const plus = (x: Tensor, by: number) => {
      const d = x.shape[1];
      return be.shiftScaleColumns(x, be.upload(new Float32Array(d).fill(-by), [d]), be.upload(new Float32Array(d).fill(1), [d]));
    };

    it('changes no bit when the observer hands back x or an equal copy', async () => {
      const plain = await logitsWith();
      expect(Array.from(await logitsWith(() => undefined))).toEqual(Array.from(plain));
      expect(Array.from(await logitsWith((_layer, x) => x))).toEqual(Array.from(plain));
      expect(Array.from(await logitsWith((_layer, x) => plus(x, 0)))).toEqual(Array.from(plain));
    });

    it('reads out the replacement of the last layer, and carries an earlier edit through the later layers', async () => {
      let expected: Promise<Float32Array> | null = null;
      const edited = await logitsWith((layer, x) => {
        if (layer !== L) return;
        const y = plus(x, 0.5);
        expected = be.download(model.readout(y));
        return y;
      });
      expect(Array.from(edited)).toEqual(Array.from(await expected!));
      const plain = await logitsWith();
      const early = await logitsWith((layer, x) => (layer === 1 ? plus(x, 0.5) : undefined));
      expect(early.some((v, i) => v !== plain[i])).toBe(true);
    });

    it('refuses a replacement of another shape', async () => {
      await expect(logitsWith((layer) => (layer === 1 ? be.zeros([2, 3]) : undefined))).rejects.toThrow(/residual stream of layer 1 is \[2, \d+\], its replacement \[2, 3\]/);
    });
  });
}

describe('MambaLM.step() with an edited SSM state', () => {
  const config = configFromPreset('tiny', 61, 59);
  const model = createModel(be, config, initModelParameters(config, new Rng(3, 1))) as MambaLM;
  const [E, N] = [2 * config.d_model, config.d_state];

  /** Feeds TOKENS to 2 sequences, the editor seeing only the last step; the logits and layer 1's state after. */
  async function run(onState?: (layer: number, h: Tensor) => Tensor | void): Promise<{ logits: Float32Array; state: Float32Array; next: Float32Array }> {
    const state = model.newStepState(2);
    let logits = new Float32Array(0);
    for (const [t, token] of TOKENS.entries()) logits = await model.step(state, Int32Array.from([token, token + 1]), undefined, t === TOKENS.length - 1 ? onState : undefined);
    const h = await be.download(model.ssmState(state, 0));
    const next = await model.step(state, Int32Array.from([21, 22]));
    model.disposeStepState(state);
    return { logits, state: h, next };
  }
  const dh = Float32Array.from({ length: 2 * E * N }, (_, i) => 0.3 * Math.cos(i));

  it('changes no bit with a zero edit or none', async () => {
    const plain = await run();
    for (const edited of [await run(() => undefined), await run((_layer, h) => be.zeros(h.shape))]) {
      expect(Array.from(edited.logits)).toEqual(Array.from(plain.logits));
      expect(Array.from(edited.next)).toEqual(Array.from(plain.next));
    }
  });

  it('adds the edit to the state, and the step\'s own logits and the next step follow it', async () => {
    const plain = await run();
    const seen: number[] = [];
    const edited = await run((layer, h) => {
      seen.push(layer);
      return layer === 1 ? be.upload(dh, h.shape) : undefined;
    });
    expect(seen).toEqual(Array.from({ length: config.n_layers }, (_, i) => i + 1));
    expect(Array.from(edited.state)).toEqual(Array.from(plain.state, (v, i) => Math.fround(v + dh[i])));
    expect(edited.logits.some((v, i) => v !== plain.logits[i])).toBe(true);
    expect(edited.next.some((v, i) => v !== plain.next[i])).toBe(true);
  });

  it('refuses an edit of another shape', async () => {
    await expect(run((layer) => (layer === 1 ? be.zeros([2, 3]) : undefined))).rejects.toThrow(/SSM state of layer 1 is \[2, \d+, \d+\], its edit \[2, 3\]/);
  });
});
