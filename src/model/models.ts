/**
 * One entry point per job for every architecture: the parameters a config implies, their initialisation,
 * and the model over a backend. Callers hold a LanguageModel and never ask which architecture it is,
 * except where a feature belongs to one (a Mamba's SSM state).
 */
import type { Backend } from '../backend/backend.js';
import type { Rng } from '../util/rng.js';
import { configFromPreset, presetNames, type ModelConfig } from './config.js';
import { GptLM, gptParameterShapes, initGptParameters } from './gpt.js';
import type { LanguageModel } from './language-model.js';
import { MambaLM } from './mamba.js';
import { initParameters, parameterShapes, type ParameterShape } from './params.js';

/** Every parameter's Hugging Face name and shape, in a stable order. */
export function modelParameterShapes(config: ModelConfig): ParameterShape[] {
  return config.architecture === 'transformer' ? gptParameterShapes(config) : parameterShapes(config);
}

/** The number of parameters (a tied head counted once). */
export function parameterCount(config: ModelConfig): number {
  let n = 0;
  for (const [, shape] of modelParameterShapes(config)) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Fresh parameters, initialised as the architecture's reference code does. */
export function initModelParameters(config: ModelConfig, rng: Rng): Map<string, Float32Array> {
  return config.architecture === 'transformer' ? initGptParameters(config, rng) : initParameters(config, rng);
}

/** The model of `config` with `params` uploaded to `backend`. */
export function createModel(backend: Backend, config: ModelConfig, params: Map<string, Float32Array>): LanguageModel {
  return config.architecture === 'transformer' ? new GptLM(backend, config, params) : new MambaLM(backend, config, params);
}

/**
 * Every preset by name, architecture and size, for --help: "othello-base (mamba, 3.5M), ...". Sizes are
 * at Othello's 61 tokens and 59 positions (a chess vocabulary and context move them by under 3%).
 */
export function presetSummary(): string {
  return presetNames()
    .map((name) => {
      const config = configFromPreset(name, 61, 59);
      const n = parameterCount(config);
      const size = n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${Math.round(n / 1e3)}k`;
      return `${name} (${config.architecture}, ${size})`;
    })
    .join(', ');
}
