import type { GpuRuntime, GpuTensor } from '../runtime.js';
export function embeddingForward(rt: GpuRuntime, ids: GpuTensor, weight: GpuTensor): GpuTensor { throw new Error('not written yet'); }
export function embeddingBackward(rt: GpuRuntime, ids: GpuTensor, dOut: GpuTensor, dWeight: GpuTensor, accumulate: boolean): void { throw new Error('not written yet'); }
