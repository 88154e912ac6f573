import { FORWARDER_DEFAULTS, type ForwarderOptions, createForwarder } from '@edgekit/proxy';
import { expressForwarder } from '@edgekit/proxy/express';
import { describe, expect, it } from 'vitest';

const region = { name: 'eu', url: 'http://127.0.0.1:9', location: { lat: 0, lon: 0 } };

function attempt(options: Record<string, unknown>): () => unknown {
  return () => createForwarder({ regions: [region], ...options } as ForwarderOptions);
}

describe('options', () => {
  it.each([
    ['connectTimeout', -1, /"connectTimeout"/],
    ['service', '', /"service"/],
    ['http2', 'h3', /"http2"/],
    ['maxConcurrentStreams', 0, /"maxConcurrentStreams"/],
    ['grpcRetryStatuses', [14, 17], /"grpcRetryStatuses\[1\]"/],
    ['grpcFailureStatuses', 14, /"grpcFailureStatuses"/],
    ['streamIdleTimeout', -1, /"streamIdleTimeout"/],
    ['streaming', true, /"streaming"/],
    ['headersTimeout', 'soon', /"headersTimeout"/],
    ['bodyTimeout', 1.5, /"bodyTimeout"/],
    ['keepAliveTimeout', 0, /"keepAliveTimeout"/],
    ['connections', 0, /"connections"/],
    ['maxReplayBody', -5, /"maxReplayBody"/],
    ['maxAttempts', 0, /"maxAttempts"/],
    ['failureStatuses', [502, 700], /"failureStatuses\[1\]"/],
    ['retryStatuses', '503', /"retryStatuses"/],
    ['idempotentMethods', ['GET', 'BAD METHOD'], /"idempotentMethods\[1\]"/],
    ['via', 'two words', /"via"/],
    ['servedByHeader', 'x served', /"servedByHeader"/],
    ['preserveHost', 'yes', /"preserveHost"/],
    ['health', { isHealthy: true }, /"health"/],
    ['breakers', {}, /"breakers"/],
    ['locate', 'geoip', /"locate"/],
    ['retryBudget', 5, /"retryBudget"/],
    ['retryBudget', { ratio: -0.5 }, /"retryBudget\.ratio"/],
    ['hedge', { delay: -1 }, /"hedge\.delay"/],
    ['hedge', { delay: 10, max: 0 }, /"hedge\.max"/],
    ['retryAfter', Number.NaN, /"retryAfter"/],
    ['clock', { now: 1 }, /"clock"/],
    ['dispatcher', 'pool', /"dispatcher"/],
    ['trustedProxies', ['not-an-address'], /"trustedProxies"/],
    ['trustedProxies', 42, /"trustedProxies"/],
  ])('rejects a bad %s naming the option', (name, value, message) => {
    expect(attempt({ [name]: value })).toThrow(message);
    expect(attempt({ [name]: value })).toThrow(/@edgekit\/proxy/);
  });

  it('needs regions or a selector, not both', () => {
    expect(() => createForwarder({} as ForwarderOptions)).toThrow(/"regions"/);
    expect(() => createForwarder({ regions: [] })).toThrow(/"regions"/);
    expect(() => createForwarder({ regions: [region], selector: { select: () => ({ primary: region, regions: [region], reason: 'default' }) } })).toThrow(/"regions" and "selector"/);
    expect(() => createForwarder({ selector: { pick: () => region } } as unknown as ForwarderOptions)).toThrow(/"selector"/);
    expect(() => createForwarder(null as unknown as ForwarderOptions)).toThrow(/options must be an object/);
  });

  it('rejects a region URL that is not http or https, naming the region', () => {
    const select = () => ({ primary: region, regions: [region], reason: 'default' });
    expect(() => createForwarder({ selector: { regions: [{ ...region, url: 'ftp://x' }], select } })).toThrow(/"regions\[0\]\.url"/);
    expect(() => createForwarder({ regions: [{ ...region, url: 'nope' }] })).toThrow(/regions\[0\]\.url/);
  });

  it('rejects a bad adapter argument', () => {
    expect(() => expressForwarder({} as never)).toThrow(/expressForwarder/);
    const forwarder = createForwarder({ regions: [region] });
    expect(() => expressForwarder(forwarder, { keepMountPath: 'yes' as never })).toThrow(/"keepMountPath"/);
  });

  it('documents its defaults in one object', () => {
    expect(FORWARDER_DEFAULTS).toMatchObject({
      connectTimeout: 5_000,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
      maxReplayBody: 65_536,
      maxAttempts: 3,
      failureStatuses: [502, 503, 504],
      retryStatuses: [502, 503, 504],
      idempotentMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'],
    });
    expect(Object.isFrozen(FORWARDER_DEFAULTS)).toBe(true);
  });
});
