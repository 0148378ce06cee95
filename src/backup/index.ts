export {
  BACKUP_FORMAT_VERSION,
  BackupError,
  BackupLineReader,
  BackupLineWriter,
  type BackupManifest,
  type BackupRecord,
  type BackupTrailer,
} from './format';
export {
  FILE_FOLDERS,
  writeBackup,
  type BackupSink,
  type BackupSummary,
  type SnapshotSources,
} from './snapshot';
export { restoreBackup, type RestoreSummary } from './restore';
