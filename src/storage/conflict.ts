/**
 * `store: true` met a record this client already holds under the same id (first write wins), so
 * the completion just returned was not stored. Not a StorageError: the database worked, and the
 * client is told with its own warning code rather than STORE_FAILED.
 */
export class CompletionIdConflictError extends Error {
  readonly completionId: string;

  constructor(completionId: string) {
    super(`a completion with id ${completionId} is already stored for this client`);
    this.name = 'CompletionIdConflictError';
    this.completionId = completionId;
  }
}
