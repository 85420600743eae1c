import type { AdamWHyper } from '../../backend.js';
import type { GpuRuntime, GpuTensor } from '../runtime.js';
export function adamwUpdate(rt: GpuRuntime, param: GpuTensor, grad: GpuTensor, m: GpuTensor, v: GpuTensor, hyper: AdamWHyper): void { throw new Error('webgpu adamwUpdate: not written yet'); }
export function sumOfSquares(rt: GpuRuntime, t: GpuTensor): GpuTensor { throw new Error('webgpu sumOfSquares: not written yet'); }
export function clipScale(rt: GpuRuntime, squares: readonly GpuTensor[], clip: number): GpuTensor { throw new Error('not written yet'); }
