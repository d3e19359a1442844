import { describe, expect, it } from 'vitest';
import { parseGitService, parsePostReceiveLines, pktLine, PKT_FLUSH, safeGitProtocol } from '../../src/git/smartHttp.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);

describe('parsePostReceiveLines', () => {
  it('parses "<old> <new> <ref>" lines', () => {
    expect(parsePostReceiveLines(`${Z} ${A} refs/heads/main\n${A} ${B} refs/heads/feature/x\n${B} ${Z} refs/tags/v1\n`)).toEqual([
      { before: Z, after: A, ref: 'refs/heads/main' },
      { before: A, after: B, ref: 'refs/heads/feature/x' },
      { before: B, after: Z, ref: 'refs/tags/v1' },
    ]);
  });

  it('tolerates CRLF, blank lines and a missing final newline', () => {
    expect(parsePostReceiveLines(`\n${Z} ${A} refs/heads/main\r\n\n${A} ${B} refs/heads/dev`)).toEqual([
      { before: Z, after: A, ref: 'refs/heads/main' },
      { before: A, after: B, ref: 'refs/heads/dev' },
    ]);
    expect(parsePostReceiveLines('')).toEqual([]);
  });

  it('skips malformed lines', () => {
    const text = [`${A} refs/heads/main`, `${A.slice(1)} ${B} refs/heads/x`, `${A.toUpperCase()} ${B} refs/heads/x`, `${A} ${B} refs/heads/x extra`, `garbage`, `${A} ${B} refs/heads/ok`].join('\n');
    expect(parsePostReceiveLines(text)).toEqual([{ before: A, after: B, ref: 'refs/heads/ok' }]);
  });
});

describe('safeGitProtocol', () => {
  it('passes well-formed Git-Protocol headers', () => {
    expect(safeGitProtocol('version=2')).toBe('version=2');
    expect(safeGitProtocol('version=1')).toBe('version=1');
    expect(safeGitProtocol('version=2:object=sha1')).toBe('version=2:object=sha1');
  });

  it('drops anything else', () => {
    for (const bad of [undefined, null, '', 'version', 'version=', '=2', 'version=2 ', 'version=2;rm -rf /', 'version=2\nX=1', 'version=2:', 'version=2::a=b', '--upload-pack=x', 'version=2 --upload-pack=touch', 'a=b:'.repeat(100), `v=${'1'.repeat(300)}`]) {
      expect(safeGitProtocol(bad), String(bad)).toBeNull();
    }
  });
});

describe('service names and pkt-lines', () => {
  it('accepts only the two smart HTTP services', () => {
    expect(parseGitService('git-upload-pack')).toBe('git-upload-pack');
    expect(parseGitService('git-receive-pack')).toBe('git-receive-pack');
    for (const bad of [undefined, null, '', 'git-upload-archive', 'upload-pack', '--upload-pack=x', 'git-upload-pack ', 'GIT-UPLOAD-PACK']) expect(parseGitService(bad), String(bad)).toBeNull();
  });

  it('frames pkt-lines with a 4-hex-digit length', () => {
    expect(pktLine('# service=git-upload-pack\n')).toBe('001e# service=git-upload-pack\n');
    expect(pktLine('')).toBe('0004');
    expect(PKT_FLUSH).toBe('0000');
  });
});
