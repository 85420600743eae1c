import type { GpuRuntime, GpuTensor } from '../runtime.js';
export function causalConv1dForward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, bias: GpuTensor, batch: number, length: number): GpuTensor { throw new Error('not written yet'); }
export function causalConv1dBackward(rt: GpuRuntime, x: GpuTensor, weight: GpuTensor, dy: GpuTensor, batch: number, length: number, dWeight: GpuTensor, dBias: GpuTensor): GpuTensor { throw new Error('not written yet'); }
export function causalConv1dStep(rt: GpuRuntime, window: GpuTensor, x: GpuTensor, weight: GpuTensor, bias: GpuTensor): GpuTensor { throw new Error('not written yet'); }
