// What every route module receives.
import type { DatabaseBackend } from '../node/backend.ts';

export interface RouteContext {
  readonly backend: DatabaseBackend;
}

export interface CollectionParams {
  collection: string;
}

export interface DocumentParams {
  collection: string;
  id: string;
}
