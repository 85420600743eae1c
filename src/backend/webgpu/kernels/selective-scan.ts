import type { SelectiveScanGradients, SelectiveScanInputs } from '../../backend.js';
import type { GpuRuntime, GpuTensor } from '../runtime.js';
export function selectiveScanForward(rt: GpuRuntime, inputs: SelectiveScanInputs, forBackward: boolean): { y: GpuTensor; saved: GpuTensor | null } { throw new Error('not written yet'); }
export function selectiveScanBackward(rt: GpuRuntime, inputs: SelectiveScanInputs, saved: GpuTensor | null, dy: GpuTensor, dALog: GpuTensor, dD: GpuTensor): SelectiveScanGradients { throw new Error('not written yet'); }
export function selectiveScanStep(rt: GpuRuntime, h: GpuTensor, u: GpuTensor, delta: GpuTensor, aLog: GpuTensor, b: GpuTensor, c: GpuTensor, d: GpuTensor): GpuTensor { throw new Error('not written yet'); }
