import type { GpuRuntime, GpuTensor } from '../runtime.js';
export function rmsNormForward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, eps: number): { y: GpuTensor; rstd: GpuTensor } { throw new Error('not written yet'); }
export function rmsNormBackward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, rstd: GpuTensor, dy: GpuTensor, dWeight: GpuTensor): GpuTensor { throw new Error('not written yet'); }
