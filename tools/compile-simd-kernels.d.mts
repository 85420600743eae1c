/** Compiles the SIMD kernels' WebAssembly text to its binary (wabt), helpers inlined (binaryen). */
export function compileSimdKernels(watSource: string): Promise<Uint8Array>;
