/** Picks a compute backend by name. */
import { UserError } from '../util/errors.js';
import { note } from '../util/output.js';
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/cpu-backend.js';

export type BackendName = 'cpu' | 'webgpu' | 'auto';

/**
 * 'cpu' -> the cpu backend. 'webgpu' is not implemented yet (UserError). 'auto' picks webgpu when an
 * adapter exists; until that backend lands it always falls back to cpu and says so on stderr.
 */
export async function createBackend(kind: BackendName): Promise<Backend> {
  switch (kind) {
    case 'cpu':
      return new CpuBackend();
    case 'webgpu':
      throw new UserError('--backend webgpu is not available yet; use --backend cpu');
    case 'auto':
      note('backend: cpu (the webgpu backend is not available yet)');
      return new CpuBackend();
    default:
      throw new UserError(`unknown backend '${String(kind)}' (expected cpu, webgpu or auto)`);
  }
}
