import type { BankProvider } from '../provider';
import { ProviderRegistry } from '../registry';
import { dropfolder } from './dropfolder';
import { enablebanking } from './enablebanking';
import { gocardless } from './gocardless';
import { ofxDirect } from './ofx-direct';
import { simplefin } from './simplefin';

/**
 * Every bank provider booksync ships, imported by hand (an explicit registry, no directory
 * scanning). A provider lands here when its folder exports it.
 */
export const builtinProviders: readonly BankProvider[] = Object.freeze([
  dropfolder,
  enablebanking,
  gocardless,
  ofxDirect,
  simplefin,
]);

/** The registry the daemon uses. */
export function builtinRegistry(): ProviderRegistry {
  return new ProviderRegistry(builtinProviders);
}
