// The document store: public surface for the layers above.
export * from './types.ts';
export * from './commands.ts';
export * from './errors.ts';
export { Store } from './store.ts';
export { createIdGenerator } from './ids.ts';
export { validateCommand, validateDocument, validateFilter, validateUpdate, validateFindOptions } from './validate.ts';
