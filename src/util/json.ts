/**
 * JSON read from the user's files: text that does not parse is a UserError naming the file (and, where
 * given, what the file should have been), never a bare SyntaxError.
 */
import { UserError } from './errors.js';

/** The JSON value of `text`, read from `path`; `what` (e.g. "invalid manifest") prefixes the problem. */
export function parseJsonFile(path: string, text: string, what?: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserError(`${path}: ${what ? `${what}: ` : ''}not valid JSON (${(error as Error).message})`);
  }
}
