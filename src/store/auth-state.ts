// Users and roles: replicated state, changed only by `auth` commands applied in log order
// (etcd's model: the auth store is part of the state machine, so every node checks the
// same users, and snapshots carry them). Pure: password hashes are computed before a
// command is proposed, never here, and no password is ever held in clear.
//
// Authentication is on once a `bootstrap` command has applied (a node started with
// --root-password-file proposes it); it cannot be turned off again through the API.

import { assert } from '../assert.ts';
import { ConflictError, NotFoundError, StoreError, ValidationError } from './errors.ts';

export type AuthAction = 'read' | 'write';

/** What a role allows on one collection, or on every collection (`"*"`). */
export interface Permission {
  readonly collection: string;
  readonly actions: readonly AuthAction[];
}

export interface UserRecord {
  readonly name: string;
  /** `scrypt$...` (src/server/auth/password.ts); never a password. */
  readonly passwordHash: string;
  readonly roles: readonly string[];
  /** The log index of the entry that created the user or last set its password: tokens carry
   * it, so a token from before a password change, or from an earlier user of the same name
   * (removed, then created again), stops working. Unique over the log's history. */
  readonly generation: number;
}

export interface RoleRecord {
  readonly name: string;
  readonly permissions: readonly Permission[];
}

/** The commands that change users and roles (one log entry each). `by` names the user who
 * asked: every change but the bootstrap is applied only when `by` holds role root in the state
 * at that index, so a node that did not yet know authentication was on (and let a stranger
 * through) cannot make the leader apply it. */
export type AuthOp =
  | { readonly op: 'bootstrap'; readonly rootPasswordHash: string; readonly tokenKey: string }
  | { readonly op: 'putUser'; readonly by?: string; readonly name: string; readonly passwordHash?: string; readonly roles: readonly string[] }
  | { readonly op: 'deleteUser'; readonly by?: string; readonly name: string }
  | { readonly op: 'putRole'; readonly by?: string; readonly name: string; readonly permissions: readonly Permission[] }
  | { readonly op: 'deleteRole'; readonly by?: string; readonly name: string };

export type AuthCommand = { type: 'auth' } & AuthOp;

export interface AuthResultValue {
  /** bootstrap: false when authentication was already on (the command changed nothing). */
  readonly changed: boolean;
}

/** The snapshot form. */
export interface AuthSnapshot {
  readonly tokenKey: string;
  readonly users: readonly UserRecord[];
  readonly roles: readonly RoleRecord[];
}

export const ROOT = 'root';
export const USER_NAME_CHARS_MAX = 64;
export const ROLE_NAME_CHARS_MAX = 64;
export const ROLES_PER_USER_MAX = 32;
export const PERMISSIONS_PER_ROLE_MAX = 256;
/** Bounds the state every node holds and every snapshot carries. */
export const USERS_MAX = 10_000;
export const ROLES_MAX = 1_000;
export const PASSWORD_HASH_CHARS_MAX = 512;
/** 32 random bytes, hex: the key that signs tokens (src/server/auth/tokens.ts). */
export const TOKEN_KEY_HEX_CHARS = 64;

export class AuthState {
  private key: string | null = null;
  private readonly userMap = new Map<string, UserRecord>();
  private readonly roleMap = new Map<string, RoleRecord>();

  /** Authentication is on (a bootstrap has applied). */
  get enabled(): boolean {
    return this.key !== null;
  }

  /** The token signing key (hex), once enabled. */
  get tokenKey(): string | null {
    return this.key;
  }

  user(name: string): UserRecord | undefined {
    return this.userMap.get(name);
  }

  role(name: string): RoleRecord | undefined {
    return this.roleMap.get(name);
  }

  users(): UserRecord[] {
    return [...this.userMap.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  roles(): RoleRecord[] {
    return [...this.roleMap.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  isRoot(user: UserRecord): boolean {
    return user.roles.includes(ROOT);
  }

  /** Whether `user` may do `action` on `collection` (`"*"`: on every collection). */
  allows(user: UserRecord, collection: string, action: AuthAction): boolean {
    if (this.isRoot(user)) return true;
    for (const roleName of user.roles) {
      const role = this.roleMap.get(roleName);
      if (role === undefined) continue;
      for (const p of role.permissions) {
        if ((p.collection === '*' || p.collection === collection) && p.actions.includes(action)) return true;
      }
    }
    return false;
  }

  /** Applies a validated auth command at log index `index`; throws a StoreError (nothing
   * changed) when refused. */
  apply(command: AuthOp, index: number): AuthResultValue {
    switch (command.op) {
      case 'bootstrap':
        // Several nodes may propose it (each started with the root password file): the first
        // to apply turns authentication on, later ones change nothing.
        if (this.key !== null) return { changed: false };
        this.key = command.tokenKey;
        this.roleMap.set(ROOT, { name: ROOT, permissions: [{ collection: '*', actions: ['read', 'write'] }] });
        this.userMap.set(ROOT, { name: ROOT, passwordHash: command.rootPasswordHash, roles: [ROOT], generation: index });
        return { changed: true };
      case 'putUser': {
        this.requireRoot(command.by);
        for (const r of command.roles) {
          if (!this.roleMap.has(r)) throw new NotFoundError(`role "${r}" does not exist`);
        }
        const old = this.userMap.get(command.name);
        if (old === undefined && command.passwordHash === undefined) throw new ValidationError('password: a new user needs a password');
        if (old === undefined && this.userMap.size >= USERS_MAX) throw new ConflictError(`there are already ${USERS_MAX} users (the limit)`);
        if (command.name === ROOT && !command.roles.includes(ROOT)) throw new ConflictError('user "root" keeps role "root"');
        const passwordHash = command.passwordHash ?? old!.passwordHash;
        const generation = old === undefined || command.passwordHash !== undefined ? index : old.generation;
        this.userMap.set(command.name, { name: command.name, passwordHash, roles: [...command.roles], generation });
        return { changed: true };
      }
      case 'deleteUser':
        this.requireRoot(command.by);
        if (command.name === ROOT) throw new ConflictError('user "root" cannot be removed');
        if (!this.userMap.delete(command.name)) throw new NotFoundError(`user "${command.name}" does not exist`);
        return { changed: true };
      case 'putRole':
        this.requireRoot(command.by);
        if (command.name === ROOT) throw new ConflictError('role "root" cannot be changed');
        if (!this.roleMap.has(command.name) && this.roleMap.size >= ROLES_MAX)
          throw new ConflictError(`there are already ${ROLES_MAX} roles (the limit)`);
        this.roleMap.set(command.name, {
          name: command.name,
          permissions: command.permissions.map((p) => ({ collection: p.collection, actions: [...p.actions] })),
        });
        return { changed: true };
      case 'deleteRole': {
        this.requireRoot(command.by);
        if (command.name === ROOT) throw new ConflictError('role "root" cannot be removed');
        if (!this.roleMap.has(command.name)) throw new NotFoundError(`role "${command.name}" does not exist`);
        const holders = [...this.userMap.values()].filter((u) => u.roles.includes(command.name)).map((u) => u.name);
        if (holders.length > 0)
          throw new ConflictError(`role "${command.name}" is held by ${holders.slice(0, 5).join(', ')}${holders.length > 5 ? ', ...' : ''}`);
        this.roleMap.delete(command.name);
        return { changed: true };
      }
    }
  }

  toSnapshot(): AuthSnapshot | undefined {
    if (this.key === null) return undefined;
    return { tokenKey: this.key, users: this.users(), roles: this.roles() };
  }

  /** Loads a snapshot's auth part (already shape-checked by decodeSnapshotData). */
  load(snapshot: AuthSnapshot): void {
    assert(this.key === null && this.userMap.size === 0, 'AuthState.load into a used state');
    this.key = snapshot.tokenKey;
    for (const u of snapshot.users)
      this.userMap.set(u.name, { name: u.name, passwordHash: u.passwordHash, roles: [...u.roles], generation: u.generation });
    for (const r of snapshot.roles)
      this.roleMap.set(r.name, { name: r.name, permissions: r.permissions.map((p) => ({ collection: p.collection, actions: [...p.actions] })) });
  }

  private requireRoot(by: string | undefined): void {
    if (this.key === null) throw new ConflictError('authentication is off: start a node with --root-password-file to turn it on');
    const user = by === undefined ? undefined : this.userMap.get(by);
    if (user === undefined || !this.isRoot(user)) {
      throw new StoreError(
        'FORBIDDEN',
        `${by === undefined ? 'an unauthenticated request' : `user "${by}"`} may not change users or roles (role root only)`,
      );
    }
  }
}
