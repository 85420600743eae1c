/** Picks a compute backend by name. */
import { UserError } from '../util/errors.js';
import { note } from '../util/output.js';
import type { Backend, Precision } from './backend.js';
import { CpuBackend } from './cpu/cpu-backend.js';

export type BackendName = 'cpu' | 'webgpu' | 'auto';

/** --precision: 'auto' is mixed where the adapter has f16 subgroup matrices, f32 elsewhere. */
export type PrecisionChoice = Precision | 'auto';

/**
 * 'cpu' -> the cpu backend. 'webgpu' -> the webgpu backend on the best adapter, software ones included
 * (UserError when there is none). 'auto' -> webgpu on a hardware adapter, else cpu: a software adapter
 * (lavapipe) trains slower than the cpu backend on the machines measured, so it is used only by name.
 * The choice is said on stderr. `precision` picks how matmuls run (see Precision); 'mixed' where the
 * backend cannot is refused.
 */
export async function createBackend(kind: BackendName, precision: PrecisionChoice = 'f32'): Promise<Backend> {
  switch (kind) {
    case 'cpu':
      if (precision === 'mixed') throw new UserError('--precision mixed: the cpu backend multiplies in float32 only (use --backend webgpu on an adapter with f16 subgroup matrices)');
      return new CpuBackend();
    case 'webgpu':
    case 'auto': {
      // Loaded on demand: the cpu path never loads Dawn.
      const { openGpu } = await import('./webgpu/device.js');
      const { WebGpuBackend } = await import('./webgpu/webgpu-backend.js');
      const { gpu, reason } = await openGpu({ allowSoftware: kind === 'webgpu' });
      if (!gpu) {
        if (kind === 'webgpu') throw new UserError(`--backend webgpu: ${reason}`);
        if (precision === 'mixed') throw new UserError(`--precision mixed: ${reason}, and the cpu backend multiplies in float32 only`);
        note(`backend: cpu (${reason}; a software adapter is used only with --backend webgpu)`);
        return new CpuBackend();
      }
      if (precision === 'mixed' && !gpu.subgroupMatrix) {
        throw new UserError(`--precision mixed: the adapter (${gpu.adapterInfo.device || gpu.adapterInfo.description || gpu.adapterInfo.vendor}) has no f16 subgroup matrices`);
      }
      const backend = new WebGpuBackend(gpu, precision === 'f32' || !gpu.subgroupMatrix ? 'f32' : 'mixed');
      note(`backend: webgpu on ${backend.adapterName}${backend.precision === 'mixed' ? ', mixed precision (f16 matmuls on subgroup matrices)' : ''}`);
      return backend;
    }
    default:
      throw new UserError(`unknown backend '${String(kind)}' (expected cpu, webgpu or auto)`);
  }
}
