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

/** `--levels 2` or `--levels 1-3` (gtp-rhino), `--skills 20` or `--skills 0-5` (Stockfish), `--opening-moves 1-2`, `--plies 30-50`: one value (a `unit`) or a range within `bounds`. */
export function intRange(flag: string, text: string, bounds: readonly [number, number], unit = 'level'): [number, number] {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  const lo = match ? Number(match[1]) : NaN;
  const hi = match ? Number(match[2] ?? match[1]) : NaN;
  if (!(lo >= bounds[0] && hi <= bounds[1] && lo <= hi)) {
    throw new UserError(`--${flag} ${text}: expected a ${unit} or a range LO-HI within ${bounds.join('-')}, e.g. ${bounds[0]}-${bounds[0] + 2}`);
  }
  return [lo, hi];
}
