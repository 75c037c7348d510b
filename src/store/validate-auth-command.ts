// Shape checks of `auth` commands (they arrive from the log, from a follower that forwards
// them, or from this node's own HTTP routes) and of a snapshot's auth part.

import {
  PASSWORD_HASH_CHARS_MAX,
  PERMISSIONS_PER_ROLE_MAX,
  ROLE_NAME_CHARS_MAX,
  ROLES_PER_USER_MAX,
  TOKEN_KEY_HEX_CHARS,
  USER_NAME_CHARS_MAX,
  type AuthSnapshot,
} from './auth-state.ts';
import { fail, isPlainObject, joinPath } from './validate-common.ts';

/** User and role names: what fits in a URL path segment and a log line unescaped. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/;
const HEX = /^[0-9a-f]+$/;
/** A permission names one collection (the API's collection-name rule) or every one. */
const COLLECTION = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,127}|\*)$/;

export function validateUserName(name: unknown, path = 'name'): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > USER_NAME_CHARS_MAX || !NAME.test(name)) {
    fail(path, `a user name is 1 to ${USER_NAME_CHARS_MAX} letters, digits, "_", ".", "@" or "-", starting with a letter or digit`);
  }
}

export function validateRoleName(name: unknown, path = 'name'): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > ROLE_NAME_CHARS_MAX || !NAME.test(name)) {
    fail(path, `a role name is 1 to ${ROLE_NAME_CHARS_MAX} letters, digits, "_", ".", "@" or "-", starting with a letter or digit`);
  }
}

function validateRoleList(roles: unknown, path: string): void {
  if (!Array.isArray(roles)) fail(path, 'roles must be an array of role names');
  if (roles.length > ROLES_PER_USER_MAX) fail(path, `at most ${ROLES_PER_USER_MAX} roles per user`);
  roles.forEach((r, i) => validateRoleName(r, joinPath(path, i)));
  if (new Set(roles).size !== roles.length) fail(path, 'a role is listed twice');
}

export function validatePermissions(permissions: unknown, path: string): void {
  if (!Array.isArray(permissions)) fail(path, 'permissions must be an array of {"collection", "actions"}');
  if (permissions.length > PERMISSIONS_PER_ROLE_MAX) fail(path, `at most ${PERMISSIONS_PER_ROLE_MAX} permissions per role`);
  permissions.forEach((p: unknown, i) => {
    const at = joinPath(path, i);
    if (!isPlainObject(p)) fail(at, 'a permission is {"collection": NAME or "*", "actions": ["read", "write"]}');
    allowedKeys(p, ['collection', 'actions'], at);
    if (typeof p['collection'] !== 'string' || !COLLECTION.test(p['collection'])) fail(joinPath(at, 'collection'), 'a collection name or "*"');
    const actions = p['actions'];
    if (!Array.isArray(actions) || actions.length === 0 || actions.length > 2)
      fail(joinPath(at, 'actions'), 'actions is a non-empty list of "read" and "write"');
    for (const a of actions) if (a !== 'read' && a !== 'write') fail(joinPath(at, 'actions'), `unknown action ${JSON.stringify(a) ?? String(a)}`);
    if (new Set(actions).size !== actions.length) fail(joinPath(at, 'actions'), 'an action is listed twice');
  });
}

function validatePasswordHash(hash: unknown, path: string): void {
  if (typeof hash !== 'string' || !hash.startsWith('scrypt$') || hash.length > PASSWORD_HASH_CHARS_MAX) fail(path, 'not a password hash');
}

function validateTokenKey(key: unknown, path: string): void {
  if (typeof key !== 'string' || key.length !== TOKEN_KEY_HEX_CHARS || !HEX.test(key)) fail(path, `a token key is ${TOKEN_KEY_HEX_CHARS} hex digits`);
}

function validateBy(by: unknown, path: string): void {
  if (by !== undefined) validateUserName(by, path);
}

function allowedKeys(obj: Record<string, unknown>, keys: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) fail(joinPath(path, k), 'unknown field');
}

export function validateAuthCommand(cmd: Record<string, unknown>, path: string): void {
  const op = cmd['op'];
  switch (op) {
    case 'bootstrap':
      allowedKeys(cmd, ['type', 'op', 'rootPasswordHash', 'tokenKey'], path);
      validatePasswordHash(cmd['rootPasswordHash'], joinPath(path, 'rootPasswordHash'));
      return validateTokenKey(cmd['tokenKey'], joinPath(path, 'tokenKey'));
    case 'putUser':
      allowedKeys(cmd, ['type', 'op', 'by', 'name', 'passwordHash', 'roles'], path);
      validateBy(cmd['by'], joinPath(path, 'by'));
      validateUserName(cmd['name'], joinPath(path, 'name'));
      if (cmd['passwordHash'] !== undefined) validatePasswordHash(cmd['passwordHash'], joinPath(path, 'passwordHash'));
      return validateRoleList(cmd['roles'], joinPath(path, 'roles'));
    case 'deleteUser':
      allowedKeys(cmd, ['type', 'op', 'by', 'name'], path);
      validateBy(cmd['by'], joinPath(path, 'by'));
      return validateUserName(cmd['name'], joinPath(path, 'name'));
    case 'putRole':
      allowedKeys(cmd, ['type', 'op', 'by', 'name', 'permissions'], path);
      validateBy(cmd['by'], joinPath(path, 'by'));
      validateRoleName(cmd['name'], joinPath(path, 'name'));
      return validatePermissions(cmd['permissions'], joinPath(path, 'permissions'));
    case 'deleteRole':
      allowedKeys(cmd, ['type', 'op', 'by', 'name'], path);
      validateBy(cmd['by'], joinPath(path, 'by'));
      return validateRoleName(cmd['name'], joinPath(path, 'name'));
    default:
      fail(joinPath(path, 'op'), `unknown auth op ${JSON.stringify(op) ?? String(op)}`);
  }
}

/** Throws Error (a malformed snapshot) unless `x` is an AuthSnapshot. */
export function checkAuthSnapshot(x: unknown): asserts x is AuthSnapshot {
  try {
    if (!isPlainObject(x)) fail('auth', 'not a map');
    validateTokenKey(x['tokenKey'], 'auth.tokenKey');
    if (!Array.isArray(x['users']) || !Array.isArray(x['roles'])) fail('auth', 'users and roles must be arrays');
    for (const u of x['users'] as unknown[]) {
      if (!isPlainObject(u)) fail('auth.users', 'not a map');
      validateUserName(u['name'], 'auth.users.name');
      validatePasswordHash(u['passwordHash'], 'auth.users.passwordHash');
      validateRoleList(u['roles'], 'auth.users.roles');
      if (!Number.isSafeInteger(u['generation']) || (u['generation'] as number) < 1) fail('auth.users.generation', 'not a positive integer');
    }
    for (const r of x['roles'] as unknown[]) {
      if (!isPlainObject(r)) fail('auth.roles', 'not a map');
      validateRoleName(r['name'], 'auth.roles.name');
      validatePermissions(r['permissions'], 'auth.roles.permissions');
    }
  } catch (e) {
    throw new Error(`invalid snapshot: ${(e as Error).message}`, { cause: e });
  }
}
