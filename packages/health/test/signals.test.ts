import { EventEmitter } from 'node:events';
import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it, vi } from 'vitest';
import { createLifecycle, installSignalHandlers } from '../src/index.js';

describe('installSignalHandlers', () => {
  it('installs nothing when the package is imported', async () => {
    const before = ['SIGTERM', 'SIGINT'].map((signal) => process.listenerCount(signal));
    vi.resetModules();
    await import('../src/index.js');
    expect(['SIGTERM', 'SIGINT'].map((signal) => process.listenerCount(signal))).toEqual(before);
  });

  it('shuts the lifecycle down on SIGTERM, then exits with 0', async () => {
    const source = new EventEmitter();
    const exit = vi.fn();
    const clock = createManualClock();
    const lifecycle = createLifecycle({ clock, shutdownDelay: 1_000 });
    installSignalHandlers(lifecycle, { source, exit });
    source.emit('SIGTERM');
    expect(lifecycle.phase).toBe('draining');
    expect(exit).not.toHaveBeenCalled();
    await clock.advanceAsync(1_000);
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0));
    expect(lifecycle.phase).toBe('closed');
  });

  it('exits at once with 1 on a second signal during the shutdown', async () => {
    const source = new EventEmitter();
    const exit = vi.fn();
    const lifecycle = createLifecycle({ clock: createManualClock(), shutdownDelay: 1_000 });
    installSignalHandlers(lifecycle, { source, exit });
    source.emit('SIGINT');
    source.emit('SIGINT');
    expect(exit).toHaveBeenCalledExactlyOnceWith(1);
  });

  it('exits with 1 and reports the error when the shutdown fails', async () => {
    const source = new EventEmitter();
    const exit = vi.fn();
    const onError = vi.fn();
    const failure = new Error('server close failed');
    installSignalHandlers({ shutdown: () => Promise.reject(failure) }, { source, exit, onError, signals: ['SIGUSR2'] });
    source.emit('SIGUSR2');
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(1));
    expect(onError).toHaveBeenCalledWith(failure);
  });

  it('removes its handlers when disposed', () => {
    const source = new EventEmitter();
    const handle = installSignalHandlers(createLifecycle(), { source, exit: vi.fn() });
    expect([source.listenerCount('SIGTERM'), source.listenerCount('SIGINT')]).toEqual([1, 1]);
    handle.dispose();
    expect([source.listenerCount('SIGTERM'), source.listenerCount('SIGINT')]).toEqual([0, 0]);
  });
});
