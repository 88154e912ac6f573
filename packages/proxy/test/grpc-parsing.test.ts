import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeGrpcMessage, grpcStatusOf, isGrpcContentType, parseGrpcTimeout } from '../src/grpc.js';

describe('grpc-timeout (gRPC over HTTP/2: 1 to 8 digits, then H M S m u n)', () => {
  it.each([
    ['1H', 3_600_000],
    ['2M', 120_000],
    ['3S', 3_000],
    ['250m', 250],
    ['1500u', 2],
    ['1n', 1],
    ['0m', 0],
    ['99999999S', 99_999_999_000],
  ])('parses %s as %d ms (rounded up)', (value, ms) => {
    expect(parseGrpcTimeout(value)).toBe(ms);
  });

  it.each(['', 'S', '100', '123456789S', '10s', '1.5S', '-1S', ' 1S', '1S ', '1 S', '１S', '10k'])('ignores %j', (value) => {
    expect(parseGrpcTimeout(value)).toBeUndefined();
  });

  it('accepts exactly the grammar, and never gives less time than asked', () => {
    const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };
    fc.assert(
      fc.property(fc.string({ maxLength: 10 }), (value) => {
        const valid = /^\d{1,8}[HMSmun]$/.test(value);
        const parsed = parseGrpcTimeout(value);
        if (!valid) return parsed === undefined;
        const exact = Number(value.slice(0, -1)) * unitMs[value.at(-1)!]!;
        return parsed !== undefined && parsed >= exact && parsed - exact < 1;
      }),
    );
  });
});

describe('gRPC helpers', () => {
  it('recognises gRPC content types but not gRPC-Web', () => {
    expect(['application/grpc', 'application/grpc+proto', 'application/grpc;charset=utf-8', 'Application/GRPC'].map(isGrpcContentType)).toEqual([true, true, true, true]);
    expect(['application/grpc-web', 'application/grpc-web+proto', 'application/json', undefined].map(isGrpcContentType)).toEqual([false, false, false, false]);
  });

  it('percent-encodes grpc-message outside printable ASCII and %', () => {
    expect(encodeGrpcMessage('no region: 100% down ✗')).toBe('no region: 100%25 down %E2%9C%97');
  });

  it('maps forwarder errors to gRPC statuses', () => {
    expect(['EUPSTREAM', 'EUNAVAILABLE', 'ETIMEDOUT', 'ECLIENTLIMIT', 'EBADREQUEST', 'EOVERLOADED'].map((c) => grpcStatusOf(c as never))).toEqual([14, 14, 4, 8, 13, 14]);
  });
});
