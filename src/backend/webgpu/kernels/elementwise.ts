import type { GpuRuntime, GpuTensor } from '../runtime.js';
export function add(rt: GpuRuntime, a: GpuTensor, b: GpuTensor): GpuTensor { throw new Error('not written yet'); }
export function addInPlace(rt: GpuRuntime, target: GpuTensor, source: GpuTensor): void { throw new Error('not written yet'); }
export function siluForward(rt: GpuRuntime, x: GpuTensor): GpuTensor { throw new Error('not written yet'); }
export function siluBackward(rt: GpuRuntime, x: GpuTensor, dy: GpuTensor): GpuTensor { throw new Error('not written yet'); }
export function softplusBiasForward(rt: GpuRuntime, x: GpuTensor, bias: GpuTensor): GpuTensor { throw new Error('not written yet'); }
export function softplusBiasBackward(rt: GpuRuntime, x: GpuTensor, bias: GpuTensor, dy: GpuTensor, dBias: GpuTensor): GpuTensor { throw new Error('not written yet'); }
export function gateForward(rt: GpuRuntime, y: GpuTensor, z: GpuTensor): GpuTensor { throw new Error('not written yet'); }
export function gateBackward(rt: GpuRuntime, y: GpuTensor, z: GpuTensor, dOut: GpuTensor): { dy: GpuTensor; dz: GpuTensor } { throw new Error('not written yet'); }
export function splitColumns(rt: GpuRuntime, x: GpuTensor, widths: readonly number[]): GpuTensor[] { throw new Error('not written yet'); }
export function concatColumns(rt: GpuRuntime, parts: readonly GpuTensor[]): GpuTensor { throw new Error('not written yet'); }
