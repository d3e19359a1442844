import { describe, expect, it } from 'vitest';
import { unwrapShell } from '../../src/runner/drivers/codex.ts';

describe('codex: the command as the agent wrote it (issue 16, point 20)', () => {
  it("unwraps /bin/bash -lc 'cmd' (single quotes, codex ≤ 0.169)", () => {
    expect(unwrapShell(`/bin/bash -lc 'echo "hi there" && ls'`)).toBe('echo "hi there" && ls');
    expect(unwrapShell(`/bin/bash -lc 'echo '\\''quoted'\\'''`)).toBe("echo 'quoted'");
  });

  it('unwraps /bin/bash -lc "cmd" (double quotes, codex 0.171), undoing only the escapes bash undoes there', () => {
    expect(unwrapShell('/bin/bash -lc "cat NOTES.md"')).toBe('cat NOTES.md');
    expect(unwrapShell('/bin/bash -lc "echo \\"hi there\\" && echo \\$HOME \\`date\\` a\\\\b \'single\' \\n"')).toBe('echo "hi there" && echo $HOME `date` a\\b \'single\' \\n');
    expect(unwrapShell('/usr/bin/bash -c "printf %s\\\nnext"')).toBe('printf %snext');
    expect(unwrapShell('bash -lc "rg -n \\"TODO\\" src"')).toBe('rg -n "TODO" src');
  });

  it('leaves anything else alone', () => {
    expect(unwrapShell('/bin/bash -lc "unterminated')).toBe('/bin/bash -lc "unterminated');
    expect(unwrapShell('/bin/bash -lc "a" "b"')).toBe('/bin/bash -lc "a" "b"');
    expect(unwrapShell('git status')).toBe('git status');
  });
});
