/**
 * An error the user can act on: the CLI prints its message as one line (`gamba: <message>`) and exits
 * non-zero, without a stack trace. Messages name the file or flag and the problem.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * A failed file-system call (ENOENT, ENOTDIR, EACCES, ...): Node's message already names the call and
 * the path, so it is reported like a UserError, as one line, rather than as a crash with a stack.
 */
export function isFileSystemError(error: unknown): error is NodeJS.ErrnoException {
  const { code, syscall } = (error ?? {}) as NodeJS.ErrnoException;
  return error instanceof Error && typeof code === 'string' && typeof syscall === 'string';
}
