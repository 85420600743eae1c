/**
 * WebGPU device setup through the `webgpu` package (Dawn): adapter choice, limits raised to what the
 * adapter allows, and failure watching. A lost device or an uncaptured validation/out-of-memory error is
 * recorded and turned into an exception at the next operation, so a dropped submit can never let a
 * training run continue on garbage.
 */
import { create, globals } from 'webgpu';

/** What the caller asks for. */
export interface GpuRequest {
  /** Accept a software adapter (lavapipe / SwiftShader); otherwise only hardware counts. */
  allowSoftware: boolean;
}

export interface GpuDevice {
  device: GPUDevice;
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  /** True for a CPU implementation of Vulkan (lavapipe, llvmpipe, SwiftShader). */
  isSoftware: boolean;
  features: Set<string>;
  /**
   * f16 x f16 -> f32 16 x 16 x 16 subgroup matrices (tensor cores) with a fixed subgroup size, or null
   * where the adapter has none (lavapipe, most adapters without Dawn's experimental feature).
   */
  subgroupMatrix: { subgroupSize: number } | null;
  /**
   * The subgroup size where the device has the subgroups feature and the adapter runs every subgroup at
   * one size (kernels that map lanes to invocation ranges need it), or null: 32 on NVIDIA, 8 on lavapipe.
   */
  subgroupSize: number | null;
  /** The first fatal error seen on this device, or null. */
  failure(): string | null;
}

/** Limits raised to the adapter's maxima: big activations and wide workgroups need them. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

// GPUBufferUsage, GPUMapMode and friends as globals, as in a browser (runtime.ts uses them at load).
Object.assign(globalThis, globals);

/**
 * Dawn's toggles: subgroup matrices are an experimental feature (allow_unsafe_apis) and on NVIDIA's
 * Vulkan driver f16 is off unless asked for; neither changes what the f32 kernels compile to. Dawn
 * also rounds timestamps down to 65,536 ns (a browser's guard against timing attacks), which left
 * `--profile` reading every short kernel as 0 or 65.5 us: off, they keep the GPU's own resolution.
 */
const DAWN_TOGGLES = ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia', 'disable-dawn-features=timestamp_quantization'];

// Held for the life of the process: a device whose instance is garbage-collected under it crashes the
// process (tools/subgroup-matrix-repro.mjs found this).
let gpu: GPU | null = null;

function gpuEntry(): GPU {
  gpu ??= create(DAWN_TOGGLES);
  return gpu;
}

interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

/** The subgroup-matrix shape the mixed-precision matmul is written for, if the adapter has it. */
function subgroupMatrixOf(adapter: GPUAdapter): { subgroupSize: number } | null {
  const needed = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'];
  if (!needed.every((f) => adapter.features.has(f))) return null;
  const info = adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: SubgroupMatrixConfig[]; subgroupMinSize?: number; subgroupMaxSize?: number };
  const configs = info.subgroupMatrixConfigs ?? [];
  const f16 = configs.some((c) => c.componentType === 'f16' && c.resultComponentType === 'f32' && c.M === 16 && c.N === 16 && c.K === 16);
  // The kernel maps subgroups to invocation ranges, so their size must be one known number.
  const size = info.subgroupMinSize;
  if (!f16 || !size || info.subgroupMaxSize !== size) return null;
  return { subgroupSize: size };
}

function softwareAdapter(info: GPUAdapterInfo): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|software/.test(text);
}

/**
 * The best adapter this machine has, or null (with the reason) when there is none acceptable. A
 * high-performance hardware adapter is preferred; a software one only when `allowSoftware`.
 */
export async function openGpu(request: GpuRequest): Promise<{ gpu: GpuDevice | null; reason: string }> {
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpuEntry().requestAdapter({ powerPreference: 'high-performance' });
  } catch (error) {
    return { gpu: null, reason: `no WebGPU adapter (${(error as Error).message})` };
  }
  if (!adapter) return { gpu: null, reason: 'no WebGPU adapter (no Vulkan driver found)' };
  const info = adapter.info;
  const isSoftware = softwareAdapter(info);
  if (isSoftware && !request.allowSoftware) return { gpu: null, reason: `only a software adapter (${info.device || info.description})` };

  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const subgroupMatrix = isSoftware ? null : subgroupMatrixOf(adapter);
  const wanted = ['timestamp-query', 'subgroups', ...(subgroupMatrix ? ['shader-f16', 'chromium-experimental-subgroup-matrix'] : [])];
  const requiredFeatures = wanted.filter((f) => adapter!.features.has(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const sizes = info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const subgroupSize = device.features.has('subgroups') && sizes.subgroupMinSize && sizes.subgroupMinSize === sizes.subgroupMaxSize ? sizes.subgroupMinSize : null;

  let failure: string | null = null;
  device.lost.then((lost) => {
    failure ??= `GPU device lost (${lost.reason}): ${lost.message}`;
  });
  device.addEventListener('uncapturederror', (event) => {
    failure ??= `GPU error: ${(event as GPUUncapturedErrorEvent).error.message}`;
  });
  return {
    gpu: {
      device,
      adapterInfo: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
      isSoftware,
      features: new Set([...device.features]),
      subgroupMatrix,
      subgroupSize,
      failure: () => failure,
    },
    reason: '',
  };
}
