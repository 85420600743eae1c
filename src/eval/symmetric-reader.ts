/**
 * An Othello model read through the four opening symmetries at once (games/othello/symmetry.ts): one
 * TokenStepper per symmetry is fed the image of every move, and the next move's scores are the mean of
 * the four views' log-probabilities, each view's mapped back onto the board as played. The rules and the
 * opening look the same from every view, so a model that had learned them exactly would give the same
 * distribution four times; where it has not, its errors differ from view to view and the mean evens them
 * out. Four model steps a move instead of one.
 */
import { SYMMETRY_TOKEN_MAPS } from '../../games/othello/symmetry.js';
import type { LanguageModel } from '../model/language-model.js';
import { TokenStepper } from './token-stepper.js';

/** What a game reads the model through: feed the moves so far, read the scores of the next token. */
export type MoveReader = Pick<TokenStepper, 'logits' | 'reset' | 'feed' | 'dispose'>;

export class SymmetricOthelloReader implements MoveReader {
  /** Mean log-probabilities (V) of the next token after the last fed one; null before the first. */
  logits: Float32Array | null = null;
  private readonly views: TokenStepper[];

  constructor(model: LanguageModel) {
    this.views = SYMMETRY_TOKEN_MAPS.map(() => new TokenStepper(model));
  }

  reset(): void {
    for (const view of this.views) view.reset();
    this.logits = null;
  }

  async feed(tokens: ArrayLike<number>): Promise<Float32Array> {
    let mean: Float32Array | null = null;
    for (let s = 0; s < this.views.length; s++) {
      const map = SYMMETRY_TOKEN_MAPS[s];
      const logits = await this.views[s].feed(Array.from(tokens, (t) => map[t]));
      const logProbs = logSoftmax(logits);
      mean ??= new Float32Array(logits.length);
      // The view's token for the move the board as played calls t is map[t].
      for (let t = 0; t < mean.length; t++) mean[t] += logProbs[map[t]] / this.views.length;
    }
    this.logits = mean!;
    return this.logits;
  }

  dispose(): void {
    for (const view of this.views) view.dispose();
  }
}

function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let total = 0;
  for (const v of logits) total += Math.exp(v - max);
  const logTotal = max + Math.log(total);
  return Float64Array.from(logits, (v) => v - logTotal);
}
