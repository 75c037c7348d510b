// The script format of test/raft/testdata/*.txt (after etcd-io/raft's datadriven files):
//
//   # comments and blank lines are kept as they are
//   command arg key=value
//   ----
//   expected output, one or more lines (never blank: a blank line ends the block)
//
// parseScript() splits a file into pieces that render() puts back together, so that a
// rewrite replaces only the expected outputs and keeps every comment where it was.

export interface Command {
  /** 1-based line of the command, for failure messages. */
  readonly line: number;
  readonly name: string;
  /** Arguments without '=' in order (node ids, lists like 1,2, data). */
  readonly positional: readonly string[];
  /** key=value arguments. */
  readonly keyed: ReadonlyMap<string, string>;
  /** The command line as written. */
  readonly text: string;
  readonly expected: string;
}

export type Piece = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'command'; readonly command: Command };

/** Bound on a script's size: a runaway rewrite or a wrong file must not eat the test's memory. */
const SCRIPT_LINES_MAX = 100_000;

export function parseScript(source: string, file: string): Piece[] {
  const lines = source.split('\n');
  if (lines.length > SCRIPT_LINES_MAX) throw new Error(`${file}: more than ${SCRIPT_LINES_MAX} lines`);
  if (lines[lines.length - 1] === '') lines.pop();
  const pieces: Piece[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.trimStart().startsWith('#')) {
      pieces.push({ kind: 'text', text: line });
      i++;
      continue;
    }
    const at = i + 1;
    if (lines[i + 1] !== '----') throw new Error(`${file}:${at}: expected '----' after the command '${line}'`);
    i += 2;
    const expected: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') expected.push(lines[i++]!);
    const tokens = line.trim().split(/\s+/);
    const positional: string[] = [];
    const keyed = new Map<string, string>();
    for (const token of tokens.slice(1)) {
      const eq = token.indexOf('=');
      if (eq > 0) keyed.set(token.slice(0, eq), token.slice(eq + 1));
      else positional.push(token);
    }
    pieces.push({ kind: 'command', command: { line: at, name: tokens[0]!, positional, keyed, text: line, expected: expected.join('\n') } });
  }
  return pieces;
}

/** The file with each command's expected output replaced by `outputs` (in command order). */
export function render(pieces: readonly Piece[], outputs: readonly string[]): string {
  const out: string[] = [];
  let n = 0;
  for (const p of pieces) {
    if (p.kind === 'text') out.push(p.text);
    else out.push(p.command.text, '----', outputs[n++] ?? p.command.expected);
  }
  return out.join('\n') + '\n';
}
