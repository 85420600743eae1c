// The .wat -> .wasm step shared by the build tool and the test that checks the committed bytes.
import wabtInit from 'wabt';

export async function compileSimdKernels(watSource) {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat('kernels.wat', watSource, { simd: true });
  try {
    parsed.validate();
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}
