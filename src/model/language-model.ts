/**
 * What every architecture's language model is to the rest of gamba (training, eval, play, probes,
 * export): named parameters and their gradients on a backend, a training forward + backward, the
 * full-sequence logits and loss, and a token-by-token step() for play and activation capture. The Mamba
 * (mamba.ts) and the transformer (gpt.ts) each implement the forward and backward passes and the step;
 * what is the same for both lives here.
 */
import { gatherRows, type Backend, type Tensor } from '../backend/backend.js';
import { UserError } from '../util/errors.js';
import type { ModelConfig } from './config.js';
import { PackedParameters } from './packing.js';

/**
 * The state step() carries from token to token for `batch` sequences: `position` tokens fed so far and
 * the model's own tensors (a Mamba's conv windows and SSM states, a transformer's key/value cache), in an
 * order the model defines, so a state can be copied, restored and disposed without knowing its kind.
 */
export interface StepState {
  batch: number;
  position: number;
  tensors: Tensor[];
}

/**
 * Sees the residual stream x: (B, d) of one step after the embedding (layer 0) and after each layer i
 * (layer i). It may return a tensor of x's shape to carry on with instead (an edit of the stream: the
 * later layers, the state they keep and the logits then follow from it); x is then disposed. Anything
 * else it returns is ignored.
 */
export type ResidualObserver = (layer: number, x: Tensor) => Tensor | void;

/**
 * Sees a Mamba's SSM state h: (B, E, N) of layer `layer` (1-based, as the state probes number them)
 * right after this step's update, before the layer reads its output from it. It may return an edit
 * dh of h's shape: the state becomes h + dh and the layer's output y = C h + D u follows it (y += C dh),
 * so the edit reaches this step's logits and every later step; the model disposes dh after. Anything
 * else it returns is ignored.
 */
export type StateEditor = (layer: number, h: Tensor) => Tensor | void;

/**
 * A training-only loss on the residual stream after `layer` layers (0 = the embeddings, n_layers = the
 * last layer's output, before the final norm): forwardBackward hands it that stream x: (M, d) once the
 * forward pass is done; it queues its own loss and the gradients of its own parameters, and returns
 * dLoss/dx (at the step's loss scale), which the backward pass adds to the residual gradient there.
 * src/train/aux-board-loss.ts is one.
 */
export interface ResidualLoss {
  readonly layer: number;
  backward(x: Tensor, lossScale: number): Tensor;
  /** Whether its loss counts anything at row m of the batch it was last given. */
  counts(m: number): boolean;
}

export abstract class LanguageModel<C extends ModelConfig = ModelConfig> {
  /** Parameters on the backend, Hugging Face names: views into one packed tensor (packing.ts). */
  readonly params: Map<string, Tensor>;
  /** Gradients of the last forwardBackward(), same names and shapes as params, packed alike. */
  readonly grads: Map<string, Tensor>;
  /** The packed tensors behind params and grads, which the optimizer updates in one pass. */
  readonly packed: PackedParameters;

  /**
   * Uploads `values` as the parameters `shapes` names (each checked for presence and size; a name the
   * shapes do not list is refused too), with a zeroed gradient beside each.
   */
  protected constructor(
    readonly backend: Backend,
    readonly config: C,
    shapes: readonly [string, number[]][],
    values: Map<string, Float32Array>,
  ) {
    const known = new Set(shapes.map(([name]) => name));
    for (const name of values.keys()) {
      if (!known.has(name)) throw new UserError(`unexpected model parameter ${name} for this config`);
    }
    this.packed = new PackedParameters(backend, shapes, values);
    this.params = this.packed.params;
    this.grads = this.packed.grads;
  }

  /**
   * One training forward + backward on (batch, length) token ids and targets (-1 = ignored). Overwrites
   * `grads` (times `lossScale`, a power of two: see src/train/loss-scale.ts) and returns the mean
   * cross-entropy over the counted targets as a 1-element tensor (read it with backend.download; the
   * caller disposes it). `extra`, when given, adds its loss's gradient at its layer (ResidualLoss).
   */
  abstract forwardBackward(inputs: Int32Array, targets: Int32Array, batch: number, length: number, lossScale?: number, extra?: ResidualLoss): Tensor;

  /**
   * Runs `extra` (if any) on the residual stream after its layer, from the forward pass's layer inputs
   * (`inputs[i]` = the stream after i layers) and its last stream, and returns what the backward pass
   * calls once dx is the gradient of the stream after `layer` layers: at extra's layer it adds extra's
   * gradient to dx (and disposes it), at every other layer it does nothing.
   */
  protected residualLossGradient(extra: ResidualLoss | undefined, inputs: readonly Tensor[], last: Tensor, lossScale: number): (layer: number, dx: Tensor) => void {
    if (!extra) return () => {};
    const n = inputs.length;
    if (!Number.isInteger(extra.layer) || extra.layer < 0 || extra.layer > n) throw new Error(`residual loss at layer ${extra.layer}: the model has layers 0..${n}`);
    const dExtra = extra.backward(extra.layer === n ? last : inputs[extra.layer], lossScale);
    return (layer, dx) => {
      if (layer !== extra.layer) return;
      this.backend.addInPlace(dx, dExtra);
      this.backend.dispose(dExtra);
    };
  }

  /** The full-sequence forward pass of uploaded ids: (M) to the logits (M, V), nothing else kept. */
  protected abstract forwardLogits(ids: Tensor, batch: number, length: number): Tensor;

  /** The most tokens one sequence may hold (a transformer's positions; a Mamba has no limit). */
  abstract get contextLength(): number;

  /** An empty step state for `batch` sequences (before their first token). */
  abstract newStepState(batch: number): StepState;

  /**
   * Feeds one token per sequence (tokens: (B)) and returns the next-token logits (B * V), advancing
   * `state` in place. After tokens t_0..t_k the logits equal row k of the full-sequence path.
   * `onResidual`, when given, sees the residual stream before the final norm (and may replace it); it
   * must start its download of x before returning (x is disposed afterwards).
   */
  abstract step(state: StepState, tokens: Int32Array, onResidual?: ResidualObserver): Promise<Float32Array>;

  /**
   * Next-token logits (M, V) of residual-stream rows x: (M, d), through the final norm and the head:
   * what step() does after the last layer, and what the logit lens does to every layer.
   */
  abstract readout(x: Tensor): Tensor;

  /** The residual stream after `onResidual` saw it at `layer`: x, or the tensor it returned in x's place. */
  protected observeResidual(onResidual: ResidualObserver | undefined, layer: number, x: Tensor): Tensor {
    const replaced: unknown = onResidual?.(layer, x);
    // Only a tensor replaces x: an observer written as `(layer) => seen.push(layer)` returns a number.
    if (typeof replaced !== 'object' || replaced === null || replaced === x) return x;
    const tensor = replaced as Tensor;
    if (tensor.shape.length !== x.shape.length || tensor.shape.some((n, i) => n !== x.shape[i])) {
      throw new Error(`step: the residual stream of layer ${layer} is [${x.shape.join(', ')}], its replacement [${tensor.shape.join(', ')}]`);
    }
    this.backend.dispose(x);
    return tensor;
  }

  protected checkTokens(tokens: Int32Array, batch: number, length: number, what: string): void {
    if (!Number.isInteger(batch) || !Number.isInteger(length) || batch < 1 || length < 1) throw new Error(`${what}: batch ${batch} and length ${length} must be positive integers`);
    if (tokens.length !== batch * length) throw new Error(`${what}: ${tokens.length} values for batch ${batch} x length ${length}`);
  }

  /** Checks a batch of token ids and targets (`what` names the caller) and uploads both as (M) int tensors. */
  protected uploadBatch(inputs: Int32Array, targets: Int32Array, batch: number, length: number, what: string): { ids: Tensor; targetIds: Tensor } {
    this.checkTokens(inputs, batch, length, `${what} inputs`);
    this.checkTokens(targets, batch, length, `${what} targets`);
    const M = batch * length;
    return { ids: this.backend.uploadInts(inputs, [M]), targetIds: this.backend.uploadInts(targets, [M]) };
  }

  /** Mean cross-entropy over targets != -1, without gradients. */
  async lossOnly(inputs: Int32Array, targets: Int32Array, batch: number, length: number): Promise<number> {
    const be = this.backend;
    const { ids, targetIds } = this.uploadBatch(inputs, targets, batch, length, 'lossOnly');
    const logits = this.forwardLogits(ids, batch, length);
    const { loss } = be.crossEntropy(logits, targetIds, false);
    for (const t of [logits, ids, targetIds]) be.dispose(t);
    const value = (await be.download(loss))[0];
    be.dispose(loss);
    return value;
  }

  /** Logits (B * L * V, row b*L + t) of the full-sequence path. */
  async logits(inputs: Int32Array, batch: number, length: number): Promise<Float32Array> {
    this.checkTokens(inputs, batch, length, 'logits inputs');
    const be = this.backend;
    const ids = be.uploadInts(inputs, [batch * length]);
    const logits = this.forwardLogits(ids, batch, length);
    be.dispose(ids);
    const out = await be.download(logits);
    be.dispose(logits);
    return out;
  }

  /** Every parameter, downloaded, under its Hugging Face name. */
  async exportParameters(): Promise<Map<string, Float32Array>> {
    // one readback of the packed tensor rather than one per parameter
    return this.packed.download();
  }

  /**
   * A new step state for sequences `rows` of `state` (in that order), at the same position: a fork from
   * which those sequences can be continued apart (the caller disposes it).
   */
  selectStepState(state: StepState, rows: readonly number[]): StepState {
    const tensors = state.tensors.map((t) => this.backend.reshape(gatherRows(this.backend, t, rows), [rows.length, ...t.shape.slice(1)]));
    return { batch: rows.length, position: state.position, tensors };
  }

  /** Hands a step state's tensors back to the backend. */
  disposeStepState(state: StepState): void {
    for (const t of state.tensors) this.backend.dispose(t);
  }
}
