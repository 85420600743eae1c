/** Checks of numeric flag values that yargs' `type: 'number'` lets through (NaN, fractions, out of range). */
import { UserError } from './errors.js';

/** The value of `--name` if it is an integer in min..max; otherwise a UserError naming the flag. */
export function integerFlag(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new UserError(`--${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** The value of `--name` if it is given and a finite number > 0; undefined if not given. */
export function positiveNumber(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new UserError(`--${name}: expected a number > 0, got ${String(value)}`);
  return value;
}
