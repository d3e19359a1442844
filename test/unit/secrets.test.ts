import { describe, expect, it } from 'vitest';
import { constantTimeEqual, hashPassword, hmacHex, newPersonalAccessToken, PERSONAL_TOKEN_PREFIX, randomPassword, randomToken, sha256Hex, verifyPassword } from '../../src/domain/secrets.ts';

describe('personal access tokens', () => {
  it('have the gtk_ prefix, 44 characters, and are unique', () => {
    const tokens = Array.from({ length: 200 }, () => newPersonalAccessToken());
    for (const t of tokens) {
      expect(t.startsWith(PERSONAL_TOKEN_PREFIX)).toBe(true);
      expect(PERSONAL_TOKEN_PREFIX).toBe('gtk_');
      expect(t).toHaveLength(44);
      expect(t).toMatch(/^gtk_[A-Za-z0-9]{40}$/);
    }
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('are stored as a sha256 hash that differs from the token and is deterministic', () => {
    const token = newPersonalAccessToken();
    const hash = sha256Hex(token);
    expect(hash).not.toBe(token);
    expect(hash).not.toContain(token.slice(4));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(sha256Hex(token)).toBe(hash);
    expect(sha256Hex(newPersonalAccessToken())).not.toBe(hash);
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('random strings', () => {
  it('use only letters and digits, at the requested length, spread over the alphabet', () => {
    const s = randomToken(4000);
    expect(s).toHaveLength(4000);
    expect(s).toMatch(/^[A-Za-z0-9]+$/);
    expect(new Set(s).size).toBe(62);
    expect(randomPassword()).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(randomPassword()).not.toBe(randomPassword());
  });

  it('hmacHex and constantTimeEqual behave', () => {
    expect(hmacHex('key', 'value')).toBe(hmacHex('key', 'value'));
    expect(hmacHex('key', 'value')).not.toBe(hmacHex('other', 'value'));
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });
});

describe('passwords', () => {
  it('hash with scrypt and a random salt; verifyPassword is true for the password and false otherwise', async () => {
    const [a, b] = await Promise.all([hashPassword('correct horse battery staple'), hashPassword('correct horse battery staple')]);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toContain('correct horse');
    expect(a).not.toBe(b);
    const results = await Promise.all([
      verifyPassword('correct horse battery staple', a),
      verifyPassword('correct horse battery staple', b),
      verifyPassword('correct horse battery stapl', a),
      verifyPassword('Correct horse battery staple', a),
      verifyPassword('', a),
    ]);
    expect(results).toEqual([true, true, false, false, false]);
  });

  it('verifyPassword is false for malformed stored hashes', async () => {
    for (const stored of ['', 'plain', 'bcrypt$x$y$z$a$b', 'scrypt$32768$8$1$$']) expect(await verifyPassword('pw', stored), stored).toBe(false);
  });

  it('handles unicode passwords', async () => {
    const hash = await hashPassword('pässwörd-🔑');
    expect(await verifyPassword('pässwörd-🔑', hash)).toBe(true);
    expect(await verifyPassword('passwörd-🔑', hash)).toBe(false);
  });
});
