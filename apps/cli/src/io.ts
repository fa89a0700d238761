// What a command needs from its surroundings: output streams, environment and an abort signal
// for long-running commands (SIGINT/SIGTERM). Passed in so tests can run commands in-process.

export interface CommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted when the process is asked to stop; long-running commands shut down gracefully. */
  readonly signal: AbortSignal;
}

/** A command takes its arguments (after its own name) and resolves with the exit status. */
export type Command = (argv: readonly string[], io: CommandIo) => Promise<number>;

export interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<{ run: Command }>;
}

/** Thrown for wrong arguments: printed with the usage line, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
