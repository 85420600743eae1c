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

let gpu: GPU | null = null;

function gpuEntry(): GPU {
  gpu ??= create([]);
  return gpu;
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
  const wanted = ['timestamp-query', 'subgroups'] as const;
  const requiredFeatures = wanted.filter((f) => adapter!.features.has(f)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });

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
      failure: () => failure,
    },
    reason: '',
  };
}
