/**
 * A model read token by token for play: feeds tokens through MambaLM.step() (constant work per token)
 * and keeps the logits of the last one. A snapshot copies the recurrent state (conv windows and SSM
 * states of every layer) so a sampled continuation can be taken back, as the resampling of an illegal
 * chess move needs.
 */
import type { Backend, Tensor } from '../backend/backend.js';
import type { MambaLM, StepState } from '../model/mamba.js';

export interface StepperSnapshot {
  conv: { data: Float32Array; shape: readonly number[] }[];
  ssm: { data: Float32Array; shape: readonly number[] }[];
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

  constructor(private readonly model: MambaLM) {
    this.backend = model.backend;
    this.state = model.newStepState(1);
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
    const copy = async (tensors: Tensor[]) => Promise.all(tensors.map(async (t) => ({ data: await this.backend.download(t), shape: t.shape })));
    return { conv: await copy(this.state.conv), ssm: await copy(this.state.ssm), logits: this.logits, fed: this.fed };
  }

  restore(snapshot: StepperSnapshot): void {
    this.dispose();
    this.state = {
      batch: 1,
      conv: snapshot.conv.map((t) => this.backend.upload(t.data, t.shape)),
      ssm: snapshot.ssm.map((t) => this.backend.upload(t.data, t.shape)),
    };
    this.logits = snapshot.logits;
    this.fed = snapshot.fed;
  }

  dispose(): void {
    for (const t of [...this.state.conv, ...this.state.ssm]) this.backend.dispose(t);
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
