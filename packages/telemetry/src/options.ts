import { checkOptionsObject, describeValue } from '@edgekit/core';

export const SCOPE = '@edgekit/telemetry';

// Prometheus data model: metric names match [a-zA-Z_:][a-zA-Z0-9_:]*.
const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function checkObject<T>(name: string, value: unknown, methods: readonly string[]): T {
  const ok = value !== null && (typeof value === 'object' || typeof value === 'function') && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  if (!ok) throw new TypeError(`${SCOPE}: option "${name}" must be an object with ${methods.map((m) => `${m}()`).join(', ')} (got ${describeValue(value)})`);
  return value as T;
}

export function checkArgument<T>(what: string, value: unknown, methods: readonly string[]): T {
  const ok = value !== null && (typeof value === 'object' || typeof value === 'function') && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  if (!ok) throw new TypeError(`${SCOPE}: ${what} must be an object with ${methods.map((m) => `${m}()`).join(', ')} (got ${describeValue(value)})`);
  return value as T;
}

export function checkLabelValue(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 128) {
    throw new TypeError(`${SCOPE}: option "${name}" must be a non-empty string of at most 128 characters (got ${describeValue(value)})`);
  }
  return value;
}

export function checkPrefix(value: unknown): string {
  if (value === undefined || value === '') return '';
  if (typeof value !== 'string' || !METRIC_PREFIX.test(value)) {
    throw new TypeError(`${SCOPE}: option "prefix" must be a Prometheus metric name prefix such as "myapp_" (got ${describeValue(value)})`);
  }
  return value;
}

export function checkNames(name: string, value: unknown, { allowEmpty = false } = {}): string[] {
  if (!Array.isArray(value) || (!allowEmpty && value.length === 0)) {
    throw new TypeError(`${SCOPE}: option "${name}" must be a ${allowEmpty ? '' : 'non-empty '}array of names or of objects with a name (got ${describeValue(value)})`);
  }
  return value.map((item: unknown, i) => checkLabelValue(`${name}[${i}]`, typeof item === 'object' && item !== null ? (item as { name?: unknown }).name : item));
}

export function checkBuckets(name: string, value: unknown, fallback: readonly number[]): number[] {
  if (value === undefined) return [...fallback];
  const ok =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((b, i) => typeof b === 'number' && Number.isFinite(b) && b > 0 && (i === 0 || b > (value[i - 1] as number)));
  if (!ok) throw new TypeError(`${SCOPE}: option "${name}" must be a non-empty array of increasing positive numbers of seconds (got ${describeValue(value)})`);
  return [...(value as number[])];
}

export { checkOptionsObject };
