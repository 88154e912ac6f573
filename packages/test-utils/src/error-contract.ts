import { describe, expect, it } from 'vitest';
import { declaredErrorCodes, raisedErrorCodes } from './error-codes.js';

type ErrorClass = new (code: never, message: string, context: never) => Error & { code: string };

/** What {@link describeErrorContract} checks for one package's error class. */
export interface ErrorContract {
  /** The package's error class (`AuthError`), built as `(code, message, context)`. */
  ErrorClass: ErrorClass;
  /** The package's guard (`isAuthError`). */
  guard: (value: unknown) => boolean;
  /** The brand key of the class (`'auth'` for `Symbol.for('edgekit.auth.error')`). */
  brand: string;
  /** Arguments of one valid construction: a code, a message and a context. */
  sample: readonly [code: string, message: string, context: Record<string, unknown>];
  /** The package's `src` folder and its errors file, where the code union is declared. */
  src: string;
  errorsFile: string;
  /** Name of the code union (`AuthErrorCode`). Default: the class name + `Code`. */
  codeType?: string;
  /** Classes whose constructions count as raising (subclasses included by name). Default: the class. */
  classNames?: readonly string[];
  /** `@edgekit/core`'s base class and guard, passed in so these helpers do not depend on core. */
  base: abstract new (...args: never[]) => Error;
  isBase: (value: unknown) => boolean;
}

/**
 * The one error contract every package's error class passes: every code the sources raise is in
 * the package's code union, the class has the `(code, message, context)` shape on core's base,
 * and the guards recognise a copy of the class from another install (by its `Symbol.for` brands)
 * but not a look-alike with the same `name` and `code`.
 */
export function describeErrorContract(contract: ErrorContract): void {
  const name = contract.ErrorClass.name;
  const codeType = contract.codeType ?? `${name}Code`;
  describe(`${name} codes and guard`, () => {
    it(`raises only codes listed in ${codeType}`, () => {
      const raised = raisedErrorCodes(contract.src, contract.classNames ?? [name]);
      expect(raised.length).toBeGreaterThan(0);
      const declared = declaredErrorCodes(contract.errorsFile, codeType);
      expect(raised.filter((code) => !declared.includes(code))).toEqual([]);
    });

    it('has the (code, message, context) shape and a guard that works across copies of the package', () => {
      const [code, message, context] = contract.sample;
      const error = new contract.ErrorClass(code as never, message, context as never);
      expect(error).toBeInstanceOf(contract.base);
      expect([error.code, error.message]).toEqual([code, message]);
      expect(contract.guard(error)).toBe(true);
      expect(contract.isBase(error)).toBe(true);
      // Another copy of the package (a second install, or the CJS build next to the ESM one) has its
      // own classes, so instanceof fails; the registered brands still match.
      class CopiedError extends Error {}
      Object.defineProperty(CopiedError.prototype, Symbol.for('edgekit.error'), { value: true });
      Object.defineProperty(CopiedError.prototype, Symbol.for(`edgekit.${contract.brand}.error`), { value: true });
      expect(contract.guard(new CopiedError('copy'))).toBe(true);
      expect(contract.isBase(new CopiedError('copy'))).toBe(true);
      expect(contract.guard(new Error('plain'))).toBe(false);
      expect(contract.guard(Object.assign(new Error('look-alike'), { code, name: error.name }))).toBe(false);
    });
  });
}
