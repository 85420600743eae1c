/**
 * How a model's parameters lie on the backend: all of them in one packed tensor, their gradients in
 * another of the same layout, and each parameter a view into it (backend.view). The optimizer then
 * runs over the packed tensors, one pass for the gradient norm and one for AdamW, instead of one per
 * parameter (as PyTorch's fused multi-tensor optimizers do).
 *
 * The parameters that take weight decay come first, so a single index (decayEnd) tells the update
 * where decay stops. Each starts on a VIEW_ALIGN boundary; the gaps hold zeros, which a zero gradient
 * and zero moments keep at zero.
 */
import { VIEW_ALIGN, sizeOf, type Backend, type Tensor } from '../backend/backend.js';
import { UserError } from '../util/errors.js';

/**
 * Whether AdamW's weight decay applies to the parameter `name` (Hugging Face naming): the weight
 * matrices (in_proj, conv1d, x_proj, dt_proj, out_proj, the transformer's projections, and lm_head when
 * untied), not the embeddings, norms, biases, A_log or D, as in mamba.py and nanoGPT.
 */
export function isDecayed(name: string): boolean {
  if (name === 'backbone.embeddings.weight' || name === 'transformer.wte.weight' || name === 'transformer.wpe.weight') return false;
  if (name.endsWith('.bias') || name.endsWith('norm.weight') || name.endsWith('norm_f.weight') || /\.ln_\w+\.weight$/.test(name)) return false;
  if (name.endsWith('.A_log') || name.endsWith('.D')) return false;
  return name.endsWith('.weight');
}

/** Where one parameter lies in the packed tensors. */
export interface ParameterSlot {
  name: string;
  shape: number[];
  /** First element. */
  offset: number;
  /** Elements. */
  size: number;
}

export class PackedParameters {
  /** Views of `allParams` by name, in the model's order. */
  readonly params = new Map<string, Tensor>();
  /** Views of `allGrads`, same names. */
  readonly grads = new Map<string, Tensor>();
  /** Every parameter's place, decayed ones first. */
  readonly slots: ParameterSlot[];
  /** Elements of each packed tensor, gaps included. */
  readonly size: number;
  /** The first element past the decayed parameters. */
  readonly decayEnd: number;
  readonly allParams: Tensor;
  readonly allGrads: Tensor;

  /** Lays out `shapes` (in the model's order) and uploads `values`, with zero gradients beside them. */
  constructor(
    readonly backend: Backend,
    shapes: readonly (readonly [string, readonly number[]])[],
    values: ReadonlyMap<string, Float32Array>,
  ) {
    const ordered = [...shapes.filter(([name]) => isDecayed(name)), ...shapes.filter(([name]) => !isDecayed(name))];
    let offset = 0;
    let decayEnd = 0;
    this.slots = ordered.map(([name, shape]) => {
      const size = sizeOf(shape);
      const slot = { name, shape: [...shape], offset, size };
      offset = alignUp(offset + size);
      if (isDecayed(name)) decayEnd = offset;
      return slot;
    });
    this.size = Math.max(offset, VIEW_ALIGN);
    this.decayEnd = decayEnd;
    this.allParams = backend.upload(this.pack(values, 'model parameter'), [this.size]);
    this.allGrads = backend.zeros([this.size]);
    const byName = new Map(this.slots.map((s) => [s.name, s]));
    for (const [name] of shapes) {
      const slot = byName.get(name)!;
      this.params.set(name, backend.view(this.allParams, slot.offset, slot.shape));
      this.grads.set(name, backend.view(this.allGrads, slot.offset, slot.shape));
    }
  }

  /** One packed array of per-parameter `values` in this layout (gaps zero); `what` names them in errors. */
  pack(values: ReadonlyMap<string, Float32Array>, what: string): Float32Array {
    const all = new Float32Array(this.size);
    for (const { name, shape, offset, size } of this.slots) {
      const value = values.get(name);
      if (!value) throw new UserError(`${what} ${name} [${shape.join(', ')}] is missing`);
      if (value.length !== size) throw new UserError(`${what} ${name} has ${value.length} values, expected [${shape.join(', ')}] = ${size}`);
      all.set(value, offset);
    }
    return all;
  }

  /** The per-parameter arrays of a packed tensor in this layout (the parameters unless another is named), read back once. */
  async download(packed: Tensor = this.allParams): Promise<Map<string, Float32Array>> {
    return this.unpack(await this.backend.download(packed));
  }

  /** The per-parameter arrays (copies) of a packed array in this layout, in the model's order. */
  unpack(all: Float32Array): Map<string, Float32Array> {
    if (all.length !== this.size) throw new Error(`unpack: ${all.length} values for a packed size of ${this.size}`);
    const bySlot = new Map(this.slots.map((s) => [s.name, all.slice(s.offset, s.offset + s.size)]));
    return new Map([...this.params.keys()].map((name) => [name, bySlot.get(name)!]));
  }
}

function alignUp(n: number): number {
  return Math.ceil(n / VIEW_ALIGN) * VIEW_ALIGN;
}
