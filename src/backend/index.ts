/** Picks a compute backend by name. */
import { UserError } from '../util/errors.js';
import { note } from '../util/output.js';
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/cpu-backend.js';

export type BackendName = 'cpu' | 'webgpu' | 'auto';

/**
 * 'cpu' -> the cpu backend. 'webgpu' -> the webgpu backend on the best adapter, software ones included
 * (UserError when there is none). 'auto' -> webgpu on a hardware adapter, else cpu: a software adapter
 * (lavapipe) trains slower than the cpu backend on the machines measured, so it is used only by name.
 * The choice is said on stderr.
 */
export async function createBackend(kind: BackendName): Promise<Backend> {
  switch (kind) {
    case 'cpu':
      return new CpuBackend();
    case 'webgpu':
    case 'auto': {
      // Loaded on demand: the cpu path never loads Dawn.
      const { openGpu } = await import('./webgpu/device.js');
      const { WebGpuBackend } = await import('./webgpu/webgpu-backend.js');
      const { gpu, reason } = await openGpu({ allowSoftware: kind === 'webgpu' });
      if (!gpu) {
        if (kind === 'webgpu') throw new UserError(`--backend webgpu: ${reason}`);
        note(`backend: cpu (${reason}; a software adapter is used only with --backend webgpu)`);
        return new CpuBackend();
      }
      const backend = new WebGpuBackend(gpu);
      note(`backend: webgpu on ${backend.adapterName}`);
      return backend;
    }
    default:
      throw new UserError(`unknown backend '${String(kind)}' (expected cpu, webgpu or auto)`);
  }
}
