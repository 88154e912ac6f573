/** Limits for a numeric option checked by {@link checkNumber}. */
export interface NumberRule {
  /** Smallest accepted value (inclusive). */
  min?: number;
  /** Largest accepted value (inclusive). */
  max?: number;
  /** When true, `min` is exclusive: the value must be strictly greater. */
  exclusiveMin?: boolean;
  /** Require an integer. */
  integer?: boolean;
  /** Accept `Infinity` (for "no limit"). */
  allowInfinity?: boolean;
}

/** A short, safe rendering of a value for error messages: never throws, never huge. */
export function describeValue(value: unknown): string {
  let text: string;
  try {
    if (typeof value === 'string') text = JSON.stringify(value);
    else if (typeof value === 'function') text = `[function ${value.name || 'anonymous'}]`;
    else if (typeof value === 'bigint') text = `${value}n`;
    else if (value === undefined || typeof value === 'symbol' || Number.isNaN(value)) text = String(value);
    else text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function describeRule(rule: NumberRule): string {
  const parts = [rule.integer ? 'an integer' : 'a number'];
  if (rule.min !== undefined) parts.push(`${rule.exclusiveMin ? '>' : '>='} ${rule.min}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  return parts.join(' ');
}

/**
 * Checks a numeric option and returns it. Throws `TypeError` for a non-number and `RangeError` for
 * a number out of range; both messages name the scope, the option and the value.
 */
export function checkNumber(scope: string, name: string, value: unknown, rule: NumberRule = {}): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${scope}: option "${name}" must be ${describeRule(rule)} (got ${describeValue(value)})`);
  }
  const bad =
    (!Number.isFinite(value) && !(rule.allowInfinity && value === Infinity)) ||
    (rule.integer === true && Number.isFinite(value) && !Number.isInteger(value)) ||
    (rule.min !== undefined && (rule.exclusiveMin ? value <= rule.min : value < rule.min)) ||
    (rule.max !== undefined && value > rule.max);
  if (bad) throw new RangeError(`${scope}: option "${name}" must be ${describeRule(rule)} (got ${describeValue(value)})`);
  return value;
}

/** Like {@link checkNumber}, returning `fallback` when the value is `undefined`. */
export function optionalNumber(scope: string, name: string, value: unknown, fallback: number, rule?: NumberRule): number {
  return value === undefined ? fallback : checkNumber(scope, name, value, rule);
}

/** Checks a boolean option, returning `fallback` when it is `undefined`. */
export function optionalBoolean(scope: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${scope}: option "${name}" must be a boolean (got ${describeValue(value)})`);
  return value;
}

/** Checks a non-empty string option, returning `fallback` when it is `undefined`. */
export function optionalString<T extends string | undefined>(scope: string, name: string, value: unknown, fallback: T): string | T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${scope}: option "${name}" must be a non-empty string (got ${describeValue(value)})`);
  }
  return value;
}

/** Checks a function option, returning `fallback` when it is `undefined`. */
export function optionalFunction<F extends (...args: never[]) => unknown, D extends F | undefined>(
  scope: string,
  name: string,
  value: unknown,
  fallback: D,
): F | D {
  if (value === undefined) return fallback;
  if (typeof value !== 'function') throw new TypeError(`${scope}: option "${name}" must be a function (got ${describeValue(value)})`);
  return value as F;
}

/** Checks that `value` is one of `allowed`, returning `fallback` when it is `undefined`. */
export function optionalOneOf<T extends string>(scope: string, name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new TypeError(`${scope}: option "${name}" must be one of ${allowed.map((a) => `"${a}"`).join(', ')} (got ${describeValue(value)})`);
  }
  return value as T;
}

/** Throws a `TypeError` naming the scope when `options` is neither undefined nor a plain object. */
export function checkOptionsObject<T extends object>(scope: string, options: unknown): Partial<T> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${scope}: options must be an object (got ${describeValue(options)})`);
  }
  return options as Partial<T>;
}

/**
 * Refuses options that were renamed before 1.0 instead of ignoring them silently: when `options`
 * holds one of the old names in `renamed` (old name → current name), throws a `TypeError` with code
 * `ERR_RENAMED_OPTION` whose message names the scope, the old option and the one to use.
 *
 * @example
 * rejectRenamedOptions('@edgekit/ratelimit local limiter', options, { maxKeys: 'max' });
 */
export function rejectRenamedOptions(scope: string, options: object, renamed: Readonly<Record<string, string>>): void {
  for (const [oldName, newName] of Object.entries(renamed)) {
    if (Object.hasOwn(options, oldName)) {
      throw Object.assign(new TypeError(`${scope}: option "${oldName}" was renamed; use "${newName}" instead`), { code: 'ERR_RENAMED_OPTION' as const });
    }
  }
}
