/** A one-line progress display on a terminal; plain start and end lines otherwise (CI logs). */
export interface Progress {
  /** Starts a step of `total` units; returns the function that counts one unit done. */
  step(label: string, total: number): () => void;
  /** Ends the current step. */
  done(summary?: string): void;
  note(line: string): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = Boolean(stream.isTTY);
  let label = '';
  let total = 0;
  let count = 0;
  let startedAt = 0;
  let lastDraw = 0;
  const draw = (force = false): void => {
    if (!tty) return;
    const now = Date.now();
    if (!force && now - lastDraw < 80) return;
    lastDraw = now;
    const width = 24;
    const filled = total > 0 ? Math.round((count / total) * width) : 0;
    const secs = ((now - startedAt) / 1000).toFixed(1);
    stream.write(`\r\x1b[2K  ${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${count}/${total} ${secs}s`);
  };
  return {
    step(name, units) {
      label = name;
      total = units;
      count = 0;
      startedAt = Date.now();
      if (!tty) stream.write(`  ${name} (${units})...\n`);
      draw(true);
      return () => {
        count++;
        draw();
      };
    },
    done(summary) {
      const secs = ((Date.now() - startedAt) / 1000).toFixed(1);
      if (tty) stream.write('\r\x1b[2K');
      stream.write(`  ✓ ${label} ${secs}s${summary ? `: ${summary}` : ''}\n`);
    },
    note(line) {
      if (tty) stream.write('\r\x1b[2K');
      stream.write(`${line}\n`);
    },
  };
}
