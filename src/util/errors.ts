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
