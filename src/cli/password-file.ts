// Passwords given in files (--root-password-file, --password-file): never on the command
// line, where `ps` shows them to every user of the machine.
import { PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN } from '../server/auth/password.ts';
import { readPrivateFile } from './private-file.ts';
import { UsageError } from './usage-error.ts';

export const ROOT_PASSWORD_FLAG = '--root-password-file';
export const PASSWORD_FLAG = '--password-file';

/** The file's text without its trailing line break (as `echo` writes it), checked for length. */
export async function readPasswordFile(flag: string, value: unknown): Promise<string> {
  const text = await readPrivateFile(flag, value, PASSWORD_CHARS_MAX * 4 + 2, 'password file');
  const password = text.replace(/\r?\n$/, '');
  if (password.length < PASSWORD_CHARS_MIN || password.length > PASSWORD_CHARS_MAX) {
    throw new UsageError(
      `${flag} "${String(value)}" must hold a password of ${PASSWORD_CHARS_MIN} to ${PASSWORD_CHARS_MAX} characters (it holds ${password.length})`,
    );
  }
  if (/[\r\n]/.test(password)) throw new UsageError(`${flag} "${String(value)}" must hold the password on one line`);
  return password;
}
