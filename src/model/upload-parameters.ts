/** Moving a model's named parameters onto a backend, for every architecture. */
import type { Backend, Tensor } from '../backend/backend.js';
import { UserError } from '../util/errors.js';

/**
 * Uploads `values` as the parameters `shapes` names (each checked for presence and size; a name the
 * shapes do not list is refused too), with a zeroed gradient tensor beside each.
 */
export function uploadParameters(
  backend: Backend, shapes: readonly [string, number[]][], values: Map<string, Float32Array>,
  params: Map<string, Tensor>, grads: Map<string, Tensor>,
): void {
  for (const [name, shape] of shapes) {
    const value = values.get(name);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!value) throw new UserError(`model parameter ${name} [${shape.join(', ')}] is missing`);
    if (value.length !== size) throw new UserError(`model parameter ${name} has ${value.length} values, expected [${shape.join(', ')}] = ${size}`);
    params.set(name, backend.upload(value, shape));
    grads.set(name, backend.zeros(shape));
  }
  const known = new Set(shapes.map(([name]) => name));
  for (const name of values.keys()) {
    if (!known.has(name)) throw new UserError(`unexpected model parameter ${name} for this config`);
  }
}
