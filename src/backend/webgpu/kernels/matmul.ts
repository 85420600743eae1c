import type { GpuRuntime, GpuTensor } from '../runtime.js';
export function matmul(rt: GpuRuntime, a: GpuTensor, b: GpuTensor, transA: boolean, transB: boolean, into: GpuTensor | null, accumulate: boolean): GpuTensor { throw new Error('not written yet'); }
