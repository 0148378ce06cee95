import type { BankCodeOf } from './error-codes';
import { BooksyncError, type BooksyncErrorOptions } from '../shared/errors';
import type { BankProvider } from './provider';

/** A connection names a provider id that no registered provider has (a config mistake). */
export class UnknownProviderError extends BooksyncError {
  static readonly code = 'BANK_PROVIDER_UNKNOWN' satisfies BankCodeOf<'UnknownProviderError'>;
  declare readonly code: typeof UnknownProviderError.code;

  constructor(message: string, options: BooksyncErrorOptions = {}) {
    super(UnknownProviderError.code, message, options);
  }
}

/**
 * The providers a daemon can use, by id. Built from an explicit list (src/bank/providers/index.ts
 * imports each provider by hand; no directory scanning), so the set of code that can talk to a
 * bank is visible in one file. Tests build their own with fakes.
 */
export class ProviderRegistry {
  private readonly byId: ReadonlyMap<string, BankProvider>;

  constructor(providers: Iterable<BankProvider>) {
    const map = new Map<string, BankProvider>();
    for (const p of providers) {
      if (!p || typeof p.id !== 'string' || p.id === '' || typeof p.fetch !== 'function') {
        throw new TypeError(`not a bank provider: ${JSON.stringify(p && { id: p.id })}`);
      }
      if (map.has(p.id)) throw new TypeError(`two bank providers share the id '${p.id}'`);
      map.set(p.id, p);
    }
    this.byId = map;
  }

  /** The provider with `id`; throws UnknownProviderError listing the known ids. */
  get(id: string): BankProvider {
    const provider = this.byId.get(id);
    if (!provider) {
      throw new UnknownProviderError(
        `unknown bank provider '${id}' (known: ${this.ids().join(', ') || 'none'})`,
        {
          details: { provider: id, known: this.ids() },
        },
      );
    }
    return provider;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Known ids, sorted. */
  ids(): string[] {
    return [...this.byId.keys()].sort();
  }

  list(): BankProvider[] {
    return this.ids().map((id) => this.byId.get(id) as BankProvider);
  }

  /** A new registry with `providers` added (replacing any with the same id): for tests and demos. */
  with(...providers: BankProvider[]): ProviderRegistry {
    const replaced = new Set(providers.map((p) => p.id));
    return new ProviderRegistry([...this.list().filter((p) => !replaced.has(p.id)), ...providers]);
  }
}
