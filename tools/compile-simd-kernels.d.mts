/** Compiles the SIMD kernels' WebAssembly text to its binary (wabt). */
export function compileSimdKernels(watSource: string): Promise<Uint8Array>;
