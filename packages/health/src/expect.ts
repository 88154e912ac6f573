import { describeValue } from '@edgekit/core';

/** One accepted status code, or an inclusive range of them. */
export type StatusMatcher = number | { min: number; max: number };

/** The response a body predicate sees besides the body text. */
export interface ProbeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** What an HTTP probe must receive to pass. */
export interface HealthExpectation {
  /** Accepted statuses: a code, a `{ min, max }` range, or a list of both. Default `{ min: 200, max: 399 }` (as Kubernetes' httpGet). */
  status?: StatusMatcher | readonly StatusMatcher[];
  /**
   * Decides from the body text (read up to `maxBodyBytes`) whether the target is healthy; a throw or
   * a rejection counts as `false`. Default: none, and the body is discarded unread.
   */
  body?: (body: string, response: ProbeResponse) => boolean | Promise<boolean>;
}

/** An expectation compiled once at construction. */
export interface CompiledExpectation {
  /** `accepted[status] === 1` for every accepted status (100-599). */
  readonly accepted: Uint8Array;
  readonly body: HealthExpectation['body'];
  /** `200-399`, for error messages. */
  readonly description: string;
}

const MIN_STATUS = 100;
const MAX_STATUS = 599;

function checkStatus(scope: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_STATUS || value > MAX_STATUS) {
    throw new RangeError(`${scope}: option "${name}" must be an integer HTTP status between ${MIN_STATUS} and ${MAX_STATUS} (got ${describeValue(value)})`);
  }
  return value;
}

/** Validates `expect` and compiles its statuses into a lookup table. */
export function compileExpectation(scope: string, expect: unknown): CompiledExpectation {
  const accepted = new Uint8Array(MAX_STATUS + 1);
  if (expect !== undefined && (expect === null || typeof expect !== 'object' || Array.isArray(expect))) {
    throw new TypeError(`${scope}: option "expect" must be an object like { status, body } (got ${describeValue(expect)})`);
  }
  const { status, body } = (expect ?? {}) as HealthExpectation;
  if (body !== undefined && typeof body !== 'function') {
    throw new TypeError(`${scope}: option "expect.body" must be a function (got ${describeValue(body)})`);
  }
  const matchers: readonly unknown[] = status === undefined ? [{ min: 200, max: 399 }] : Array.isArray(status) ? status : [status];
  if (matchers.length === 0) throw new RangeError(`${scope}: option "expect.status" must list at least one status (got [])`);
  const parts: string[] = [];
  matchers.forEach((matcher, i) => {
    const name = Array.isArray(status) ? `expect.status[${i}]` : 'expect.status';
    if (typeof matcher === 'number') {
      accepted[checkStatus(scope, name, matcher)] = 1;
      parts.push(String(matcher));
      return;
    }
    if (matcher === null || typeof matcher !== 'object') {
      throw new TypeError(`${scope}: option "${name}" must be a status or a { min, max } range (got ${describeValue(matcher)})`);
    }
    const { min, max } = matcher as { min: unknown; max: unknown };
    const low = checkStatus(scope, `${name}.min`, min);
    const high = checkStatus(scope, `${name}.max`, max);
    if (low > high) throw new RangeError(`${scope}: option "${name}" must have min <= max (got ${describeValue(matcher)})`);
    accepted.fill(1, low, high + 1);
    parts.push(`${low}-${high}`);
  });
  return { accepted, body, description: parts.join(', ') };
}

/** Whether `status` is accepted by `expectation`. */
export function statusAccepted(expectation: CompiledExpectation, status: number): boolean {
  return status >= MIN_STATUS && status <= MAX_STATUS && expectation.accepted[status] === 1;
}
