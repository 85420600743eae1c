import type { GpuRuntime, GpuTensor } from '../runtime.js';
export function crossEntropy(rt: GpuRuntime, logits: GpuTensor, targets: GpuTensor, withGradient: boolean): { loss: GpuTensor; dLogits: GpuTensor | null } { throw new Error('not written yet'); }
