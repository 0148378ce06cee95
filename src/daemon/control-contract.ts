import { ControlError } from './control-errors';

/**
 * The contract of the control socket: a table of methods, each with a reader that checks and
 * narrows its params (a request that does not fit is `CONTROL_BAD_REQUEST`, naming the field) and
 * the type of its result. The server registers handlers against it and the client calls through
 * it, so both sides agree on every method at compile time; docs/ERRORS.md lists the codes.
 */

/** Checks a request's params object and returns it typed; throws `CONTROL_BAD_REQUEST`. */
export type ParamsReader<Params> = (params: Record<string, unknown>, method: string) => Params;

/** One method of a contract: its params reader and (as a type only) its result. */
export interface ControlMethod<Params, Result> {
  readonly params: ParamsReader<Params>;
  /** Never set: carries the result type from the table to `handle` and `controlRequest`. */
  readonly result?: Result;
}

/** A table of methods by name. */
export type ControlContract = Readonly<Record<string, ControlMethod<unknown, unknown>>>;

export type ParamsOf<M> = M extends ControlMethod<infer Params, unknown> ? Params : never;
export type ResultOf<M> = M extends ControlMethod<unknown, infer Result> ? Result : never;

/** A method whose params `read` checks (none when absent): `method(read).returns<Result>()`. */
export function method<Params = Record<string, never>>(read?: ParamsReader<Params>) {
  const params = (read ?? noParams) as ParamsReader<Params>;
  return { returns: <Result>(): ControlMethod<Params, Result> => ({ params }) };
}

/** One field of a params object: checks the value and returns it typed. */
type FieldReader<T> = (value: unknown, where: string) => T;

/** Throws `CONTROL_BAD_REQUEST`: `where` must be `expected`. */
export function refuse(where: string, expected: string, value: unknown): never {
  const got = value === undefined ? 'nothing' : JSON.stringify(value).slice(0, 80);
  throw new ControlError('CONTROL_BAD_REQUEST', `${where} must be ${expected} (got ${got})`);
}

export const field = {
  string: ((value, where) =>
    typeof value === 'string' ? value : refuse(where, 'a string', value)) as FieldReader<string>,
  number: ((value, where) =>
    typeof value === 'number' && Number.isFinite(value)
      ? value
      : refuse(where, 'a number', value)) as FieldReader<number>,
  boolean: ((value, where) =>
    typeof value === 'boolean'
      ? value
      : refuse(where, 'true or false', value)) as FieldReader<boolean>,
  strings: ((value, where) =>
    Array.isArray(value) && value.every((v) => typeof v === 'string')
      ? value
      : refuse(where, 'a list of strings', value)) as FieldReader<string[]>,
  object: ((value, where) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : refuse(where, 'an object', value)) as FieldReader<Record<string, unknown>>,
  /** The field may be absent (or null); then it is left out. */
  optional<T>(read: FieldReader<T>): FieldReader<T | undefined> {
    return (value, where) =>
      value === undefined || value === null ? undefined : read(value, where);
  },
};

type Fields = Record<string, FieldReader<unknown>>;
type Read<F extends Fields> = {
  [K in keyof F as undefined extends ReturnType<F[K]> ? never : K]: ReturnType<F[K]>;
} & { [K in keyof F as undefined extends ReturnType<F[K]> ? K : never]?: ReturnType<F[K]> };

/** A params reader for an object with exactly these fields (an unknown field is refused). */
export function fields<F extends Fields>(spec: F): ParamsReader<Read<F>> {
  return (params, methodName) => {
    const unknown = Object.keys(params).filter((k) => !(k in spec));
    if (unknown.length)
      throw new ControlError(
        'CONTROL_BAD_REQUEST',
        `'${methodName}' takes no parameter ${unknown.map((k) => `'${k}'`).join(', ')} (it takes: ${Object.keys(spec).join(', ') || 'none'})`,
      );
    const out: Record<string, unknown> = {};
    for (const [key, read] of Object.entries(spec)) {
      const value = read(params[key], `'${methodName}' parameter '${key}'`);
      if (value !== undefined) out[key] = value;
    }
    return out as Read<F>;
  };
}

/** The reader of a method without params. */
export const noParams: ParamsReader<Record<string, never>> = fields({});
