// Runs `mailyard` commands in-process: a CommandIo whose output is captured as text.
import { PassThrough, Readable } from 'node:stream';
import type { CommandIo } from '../src/io.ts';

export interface CapturedIo {
  readonly io: CommandIo;
  stdout(): string;
  stderr(): string;
}

export function captureIo(
  options: { stdin?: string | Buffer; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): CapturedIo {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  return {
    io: {
      stdout,
      stderr,
      stdin: Readable.from([Buffer.from(options.stdin ?? '')]),
      env: options.env ?? {},
      signal: options.signal ?? new AbortController().signal,
    },
    stdout: () => Buffer.concat(out).toString(),
    stderr: () => Buffer.concat(err).toString(),
  };
}
