/** Progress of a run on stderr: a bar redrawn in place on a terminal, one plain line per finished trial otherwise. */

export interface Progress {
  /** A trial began (shown on a terminal only). */
  started(index: number, label: string): void;
  /** A trial ended; `done` trials of the total have. */
  finished(done: number, label: string): void;
  line(text: string): void;
  end(): void;
}

const WIDTH = 30;

export function createProgress(total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  let barShown = false;
  const clearBar = (): void => {
    if (barShown) stream.write('\r\x1b[2K');
    barShown = false;
  };
  const bar = (done: number, label: string): void => {
    const filled = Math.round((done / Math.max(total, 1)) * WIDTH);
    clearBar();
    stream.write(`[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${done}/${total} ${label}`.slice(0, (stream.columns ?? 100) - 1));
    barShown = true;
  };
  return {
    started(index, label) {
      if (tty) bar(index, label);
    },
    finished(done, label) {
      if (tty) bar(done, label);
      else stream.write(`trial ${done}/${total}: ${label}\n`);
    },
    line(text) {
      clearBar();
      stream.write(`${text}\n`);
    },
    end() {
      clearBar();
    },
  };
}
