/**
 * A model read token by token for play: feeds tokens through the model's step() and keeps the logits of
 * the last one. A snapshot copies the step state (a Mamba's conv windows and SSM states, a transformer's
 * key/value cache) so a sampled continuation can be taken back, as the resampling of an illegal chess
 * move needs.
 */
import type { Backend } from '../backend/backend.js';
import type { LanguageModel, StepState } from '../model/language-model.js';

export interface StepperSnapshot {
  tensors: { data: Float32Array; shape: readonly number[] }[];
  position: number;
  logits: Float32Array | null;
  fed: number;
}

export class TokenStepper {
  private state: StepState;
  /** Logits (V) after the last fed token; null before the first. */
  logits: Float32Array | null = null;
  /** Tokens fed since the last reset. */
  fed = 0;
  private readonly backend: Backend;

  constructor(private readonly model: LanguageModel) {
    this.backend = model.backend;
    this.state = model.newStepState(1);
  }

  /** The most tokens the model can be fed (Infinity for a Mamba). */
  get capacity(): number {
    return this.model.contextLength;
  }

  get vocabSize(): number {
    return this.model.config.vocab_size;
  }

  /** Back to the empty state (before any token). */
  reset(): void {
    this.dispose();
    this.state = this.model.newStepState(1);
    this.logits = null;
    this.fed = 0;
  }

  /** Feeds tokens in order; returns the logits after the last. */
  async feed(tokens: ArrayLike<number>): Promise<Float32Array> {
    const one = new Int32Array(1);
    for (let i = 0; i < tokens.length; i++) {
      one[0] = tokens[i];
      this.logits = await this.model.step(this.state, one);
      this.fed++;
    }
    if (!this.logits) throw new Error('TokenStepper.feed: no token has been fed yet');
    return this.logits;
  }

  async snapshot(): Promise<StepperSnapshot> {
    const tensors = await Promise.all(this.state.tensors.map(async (t) => ({ data: await this.backend.download(t), shape: t.shape })));
    return { tensors, position: this.state.position, logits: this.logits, fed: this.fed };
  }

  restore(snapshot: StepperSnapshot): void {
    this.dispose();
    this.state = { batch: 1, position: snapshot.position, tensors: snapshot.tensors.map((t) => this.backend.upload(t.data, t.shape)) };
    this.logits = snapshot.logits;
    this.fed = snapshot.fed;
  }

  dispose(): void {
    this.model.disposeStepState(this.state);
  }
}

/**
 * A token drawn from `logits` (V values): argmax when `temperature` is 0, else softmax(logits / T).
 * `allowed`, when given, restricts the draw to those token ids.
 */
export function sampleToken(logits: Float32Array, temperature: number, uniform: () => number, allowed?: readonly number[]): number {
  const ids = allowed ?? Array.from({ length: logits.length }, (_, i) => i);
  if (ids.length === 0) throw new RangeError('sampleToken: no token to choose from');
  let best = ids[0];
  for (const id of ids) if (logits[id] > logits[best]) best = id;
  if (temperature === 0) return best;
  const weights = ids.map((id) => Math.exp((logits[id] - logits[best]) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let r = uniform() * total;
  for (let i = 0; i < ids.length; i++) {
    r -= weights[i];
    if (r < 0) return ids[i];
  }
  return ids[ids.length - 1];
}
