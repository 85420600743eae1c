/**
 * The auxiliary board loss (src/train/aux-board-loss.ts): its board targets, and the gradients of the
 * model's loss plus W times the head's cross-entropy, for every parameter of a Mamba and of a
 * transformer and for the head, against central differences of a float64 reference (the model tests'
 * references, read at the head's layer), with the head on the embeddings, a middle layer and the
 * last layer.
 */
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';
import { validateConfig, type GptConfig, type MambaConfig, type ModelConfig } from '../../src/model/config.js';
import { createModel, modelParameterShapes } from '../../src/model/models.js';
import { initGptParameters } from '../../src/model/gpt.js';
import { initParameters } from '../../src/model/params.js';
import { AuxBoardLoss, auxHeadShapes, boardTargets, defaultAuxLayer } from '../../src/train/aux-board-loss.js';
import { Rng } from '../../src/util/rng.js';
import { parseSquare, SQUARE_TO_TOKEN } from '../../games/othello/notation.js';
import { crossEntropyRef, numericGradient, randomArray, type F64 } from '../backend/reference.js';
import { gptReferenceLogits } from '../model/gpt-reference.js';
import { referenceLogits } from '../model/reference-model.js';

const MAMBA = validateConfig(
  { d_model: 8, n_layers: 2, d_state: 4, expand: 2, d_conv: 4, dt_rank: 2, vocab_size: 7, tie_embeddings: true, layer_norm_epsilon: 1e-5, pad_token_id: 0 },
  'micro config',
) as MambaConfig;
const GPT: GptConfig = { architecture: 'transformer', d_model: 8, n_layers: 2, n_heads: 2, n_positions: 8, vocab_size: 7, layer_norm_epsilon: 1e-5, pad_token_id: 0 };

/** The init with larger random values added, so every path carries a gradient well above float32 noise. */
function spread(params: Map<string, Float32Array>, seed: number): Map<string, Float32Array> {
  let k = 0;
  for (const [name, value] of params) {
    const noise = randomArray(value.length, seed * 100 + k++, -0.3, 0.3);
    for (let i = 0; i < value.length; i++) value[i] += name.endsWith('A_log') || name.endsWith('dt_proj.bias') ? noise[i] : 1.5 * noise[i];
  }
  return params;
}

const toF64 = (params: Map<string, Float32Array>): Map<string, F64> => new Map([...params].map(([k, v]) => [k, Float64Array.from(v)]));

/** The head's cross-entropy on the residual stream x: (M, d), in float64. */
function headLoss(x: F64, head: Map<string, F64>, targets: Int32Array, M: number, d: number): number {
  const w = head.get('aux_board.weight')!;
  const b = head.get('aux_board.bias')!;
  const logits = new Float64Array(M * 192);
  for (let m = 0; m < M; m++) {
    for (let o = 0; o < 192; o++) {
      let s = b[o];
      for (let i = 0; i < d; i++) s += x[m * d + i] * w[o * d + i];
      logits[m * 192 + o] = s;
    }
  }
  return crossEntropyRef(logits, targets, 3);
}

describe('boardTargets', () => {
  it('labels the board after each move, relative to the player who just moved, and leaves the padding out', () => {
    // f5 (black), f6 (white), e6 (black), then padding; inputs of length 5
    const moves = ['f5', 'f6', 'e6'].map((name) => SQUARE_TO_TOKEN[parseSquare(name)]);
    const inputs = Int32Array.from([...moves, 0, 0]);
    const targets = boardTargets(inputs, 1, 5);
    const count = (t: number, cls: number) => targets.subarray(t * 64, (t + 1) * 64).filter((v) => v === cls).length;
    // after f5 black has 4 discs (mine), white 1 (theirs); after f6 white has 3 and black 3; after e6 black 5, white 2
    expect([count(0, 1), count(0, 2), count(0, 0)]).toEqual([4, 1, 59]);
    expect([count(1, 1), count(1, 2)]).toEqual([3, 3]);
    expect([count(2, 1), count(2, 2)]).toEqual([5, 2]);
    expect(targets[0 * 64 + parseSquare('f5')]).toBe(1);
    expect(targets[1 * 64 + parseSquare('f5')]).toBe(2);
    expect(targets.subarray(3 * 64).every((v) => v === -1)).toBe(true);
  });

  it('puts the head three quarters of the way up by default', () => {
    expect([defaultAuxLayer(8), defaultAuxLayer(16), defaultAuxLayer(2)]).toEqual([6, 12, 2]);
  });
});

describe('the auxiliary board loss gradients', () => {
  const cases: { name: string; config: ModelConfig; init: () => Map<string, Float32Array>; logits: (p: Map<string, F64>, ids: Int32Array, B: number, L: number, res: F64[]) => F64 }[] = [
    { name: 'mamba', config: MAMBA, init: () => spread(initParameters(MAMBA, new Rng(7)), 7), logits: (p, ids, B, L, res) => referenceLogits(MAMBA, p, ids, B, L, res) },
    { name: 'transformer', config: GPT, init: () => spread(initGptParameters(GPT, new Rng(7)), 7), logits: (p, ids, B, L, res) => gptReferenceLogits(GPT, p, ids, B, L, res) },
  ];
  for (const c of cases) {
    for (const layer of [0, 1, 2]) {
      it(`${c.name}, head after layer ${layer}: every parameter and the head against central differences`, async () => {
        const W = 0.7;
        const B = 2, L = 4, M = B * L, d = 8, V = 7;
        const be = new CpuBackend();
        const params = c.init();
        const model = createModel(be, c.config, params);
        const headValues = new Map(auxHeadShapes(d).map(([name, shape]) => [name, Float32Array.from(randomArray(shape.reduce((a, b) => a * b), 31 + name.length, -0.5, 0.5))]));
        const aux = new AuxBoardLoss(be, d, layer, W, headValues);
        const inputs = Int32Array.from(randomArray(M, 11, 0, V), Math.floor);
        const targets = Int32Array.from(randomArray(M, 12, 0, V), Math.floor);
        targets[3] = -1;
        const boards = Int32Array.from(randomArray(M * 64, 13, 0, 3), Math.floor);
        for (let i = 5 * 64; i < 6 * 64; i++) boards[i] = -1;
        aux.setTargets(boards);
        const loss = (await be.download(model.forwardBackward(inputs, targets, B, L, 1, aux)))[0];
        const auxLoss = (await be.download(aux.takeLoss()))[0];

        const ref = toF64(params);
        const head = toF64(headValues);
        const objective = () => {
          const residuals: F64[] = [];
          const lm = crossEntropyRef(c.logits(ref, inputs, B, L, residuals), targets, V);
          return lm + W * headLoss(residuals[layer], head, boards, M, d);
        };
        const residuals: F64[] = [];
        expect(loss).toBeCloseTo(crossEntropyRef(c.logits(ref, inputs, B, L, residuals), targets, V), 5);
        expect(auxLoss).toBeCloseTo(headLoss(residuals[layer], head, boards, M, d), 5);

        const pick = new Rng(17);
        const check = async (values: Map<string, F64>, grads: Map<string, Tensor>, names: string[]) => {
          for (const name of names) {
            const x = values.get(name)!;
            const indices = x.length <= 6 ? [...x.keys()] : Array.from({ length: 6 }, () => pick.nextInt(x.length));
            const numeric = numericGradient(objective, x, indices);
            const analytic = await be.download(grads.get(name)!);
            const scale = Math.max(...[...numeric.values()].map(Math.abs), 1e-3);
            for (const [i, n] of numeric) {
              expect(Math.abs(analytic[i] - n), `${name}[${i}]: ${analytic[i]} vs ${n}`).toBeLessThanOrEqual(2e-4 * scale + 2e-3 * Math.abs(n));
            }
          }
        };
        await check(ref, model.grads, modelParameterShapes(c.config).map(([name]) => name));
        await check(head, aux.packed.grads, auxHeadShapes(d).map(([name]) => name));
      });
    }
  }

  it('refuses a layer the model does not have and a weight that is not positive', () => {
    const be = new CpuBackend();
    const model = createModel(be, MAMBA, initParameters(MAMBA, new Rng(1)));
    const head = new Map(auxHeadShapes(8).map(([name, shape]) => [name, new Float32Array(shape.reduce((a, b) => a * b))]));
    const aux = new AuxBoardLoss(be, 8, 3, 1, head);
    aux.setTargets(new Int32Array(4 * 64));
    expect(() => model.forwardBackward(new Int32Array(4), new Int32Array(4), 1, 4, 1, aux)).toThrow('residual loss at layer 3: the model has layers 0..2');
    expect(() => new AuxBoardLoss(be, 8, 1, 0, head)).toThrow('must be a positive number');
  });
});
