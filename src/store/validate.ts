// Validation of everything that enters the store: documents, filters, update specs, find
// options and whole commands (which may arrive from the network or the log). Every
// failure is a ValidationError whose message starts with the path of the field at fault.
// One file per validator; this index is the import path of them all.

export { ID_BYTES_MAX } from './id-limit.ts';
export { validateIndexFields } from './index-fields.ts';
export { isPlainObject, validateFieldPath } from './validate-common.ts';
export {
  asJsonObject,
  copyDocument,
  copyJsonValue,
  copyNewDocument,
  DOCUMENT_KEYS_MAX,
  validateDocument,
  validateId,
  withRevision,
} from './validate-document.ts';
export { MAX_IN_VALUES, validateFilter } from './validate-filter.ts';
export { UPDATE_OPERATORS, validateUpdate } from './validate-update.ts';
export { MAX_SORT_FIELDS, validateFindOptions } from './validate-find-options.ts';
export {
  MAX_COLLECTION_NAME_LENGTH,
  validateCollectionName,
  validateCommand,
  validateIndexName,
  type CommandValidationOptions,
} from './validate-command.ts';
