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
export { BooksStore, type StoreOptions } from './store';
export { stampDoc } from './stamp';
export type {
  ExpectedWrite,
  ExpectedWriteResult,
  RevisionWriteResult,
  WrittenDoc,
} from './batch-writes';
export {
  LevelChangesReader,
  readWinningDocs,
  winningRev,
  type BooksChange,
  type BooksChangesPage,
  type BooksChangesReader,
  type RevTreePath,
  type StoredDoc,
  type WinningDoc,
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
