// The one error type handlers throw; dispatch and the HTTP wrapper turn anything else into `internal`.
import { errors, errorText, type ErrorCode, type ErrorName, type ErrorParams } from '../protocol/errors.ts';

export class ParleyError extends Error {
  readonly code: ErrorCode;
  /** The handler's writes stand even though it refuses (e.g. a wrong code spends one of its tries). */
  keepWrites = false;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ParleyError';
    this.code = code;
  }
}

type ParamsArg<N extends ErrorName> = [keyof ErrorParams<N>] extends [never] ? [] : [ErrorParams<N>];

/** The same error, but the handler's writes are committed anyway. */
export function keepingWrites(error: ParleyError): ParleyError {
  error.keepWrites = true;
  return error;
}

/** Builds the catalogued error `name`, its text filled in from `params`. */
export function fail<N extends ErrorName>(name: N, ...params: ParamsArg<N>): ParleyError {
  return new ParleyError(errors[name].code, errorText(name, (params[0] ?? {}) as ErrorParams<N>));
}
