/** The ledger module: document model, invariants and the local books store. */
export * from './model';
export * from './errors';
export { docProblems, isIsoInstant } from './validate';
export {
  assertBalanced,
  balanceProblems,
  bookContent,
  reverseMove,
  validateWrite,
  writeProblems,
  type ReverseOptions,
  type WriteCheck,
  type WriteOptions,
} from './invariants';
export { BooksStore, stampDoc, type StoreOptions } from './store';
export {
  LevelChangesReader,
  winningRev,
  type BooksChange,
  type BooksChangesPage,
  type BooksChangesReader,
  type RevTreePath,
  type StoredDoc,
} from './level-changes';
export {
  allStagedImports,
  stagedAmong,
  stagedIds,
  stagedImportsOf,
  visibleLines,
  type IdAndDoc,
  type StagedImport,
  type StagingBooks,
} from './staged-imports';
