/** Turns output chunks into complete lines (for progress events and output tails). */
export type Stream = 'stdout' | 'stderr';

export interface LineSplitter {
  onOutput(stream: Stream, chunk: string): void;
  /** Emits the last, unterminated line of each stream. */
  flush(): void;
}

export function lineSplitter(emit: (stream: Stream, line: string) => void): LineSplitter {
  const pending: Record<Stream, string> = { stdout: '', stderr: '' };
  return {
    onOutput(stream, chunk) {
      const lines = (pending[stream] + chunk).split('\n');
      pending[stream] = lines.pop() ?? '';
      for (const line of lines) emit(stream, line);
    },
    flush() {
      for (const stream of ['stdout', 'stderr'] as const) {
        if (pending[stream] !== '') emit(stream, pending[stream]);
        pending[stream] = '';
      }
    },
  };
}
