import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Options of {@link watchConfigFile}. */
export interface WatchConfigOptions {
  /** Called with the new content when the file's content changed. */
  onChange: (text: string) => void;
  /** Called when the folder cannot be watched or the file cannot be read. */
  onError?: (error: Error) => void;
  /** Quiet period after the last event before the file is read, ms. Default: 100. */
  debounce?: number;
  /** Also re-read the file every this many ms (for file systems without inotify). Default: 0 (off). */
  pollInterval?: number;
}

/** A running watch; `close()` stops it. */
export interface ConfigWatcher {
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Watches a configuration file for changes of its content. The folder is watched, not the file: a
 * Kubernetes Secret or ConfigMap volume replaces its files by swapping the `..data` symlink
 * atomically (the file itself is a symlink through `..data`, whose inode never changes), and
 * editors save by renaming a new file over the old one; both show up as events in the folder. The
 * file is re-read through its symlinks and reported only when its content differs.
 */
export function watchConfigFile(path: string, options: WatchConfigOptions): ConfigWatcher {
  const debounce = options.debounce ?? 100;
  const onError = options.onError ?? (() => {});
  let last: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let reading = Promise.resolve();

  const check = (): void => {
    reading = reading.then(async () => {
      if (closed) return;
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        // Mid-swap the link may point nowhere for an instant; the next event reads it again.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') onError(error as Error);
        return;
      }
      if (closed || text === last) return;
      last = text;
      options.onChange(text);
    });
  };
  const schedule = (): void => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(check, debounce);
    timer.unref();
  };

  // The content at start is the baseline: only later changes are reported.
  reading = readFile(path, 'utf8').then(
    (text) => {
      last = text;
    },
    () => {},
  );

  let watcher: FSWatcher | undefined;
  try {
    // Any event in the folder (`..data` swapped, an editor's rename, the file written) re-reads the
    // file; unchanged content is not reported, so unrelated events cost one read.
    watcher = watch(dirname(path), { persistent: false }, schedule);
    watcher.on('error', (error) => onError(error));
  } catch (error) {
    onError(error as Error);
  }
  const poll = options.pollInterval ? setInterval(check, options.pollInterval) : undefined;
  poll?.unref();

  const close = async (): Promise<void> => {
    closed = true;
    if (timer !== undefined) clearTimeout(timer);
    if (poll !== undefined) clearInterval(poll);
    watcher?.close();
    await reading;
  };
  return { close, [Symbol.asyncDispose]: close };
}
