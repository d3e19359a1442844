/**
 * What an agent's sandbox may reach on the network (issue 12, point 6), per repository:
 * - `none`: nothing at all (the scripted and openai agents, whose model calls the runner makes itself);
 * - `model-only` (default): only the agent's model endpoint, through the runner's authenticating proxy;
 * - `allow-list`: the model, plus the listed hosts through the runner's egress proxy (HTTPS_PROXY);
 * - `open`: the runner machine's network, as it is (the administrator's choice, e.g. for a trusted team).
 */
export type NetworkMode = 'none' | 'model-only' | 'allow-list' | 'open';

export const NETWORK_MODES: readonly NetworkMode[] = ['none', 'model-only', 'allow-list', 'open'];

export interface NetworkPolicy {
  mode: NetworkMode;
  /** Host names (`registry.npmjs.org`) or suffix patterns (`*.pythonhosted.org`), for `allow-list`. */
  hosts: string[];
}

export const DEFAULT_NETWORK_POLICY: NetworkPolicy = { mode: 'model-only', hosts: [] };

const HOST = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Splits and checks an allow-list ("a.example, *.b.example"); returns the hosts or the first bad entry. */
export function parseAllowedHosts(text: string): { hosts: string[] } | { error: string } {
  const hosts = [...new Set(text.split(/[\s,]+/).map((h) => h.trim().toLowerCase()).filter(Boolean))];
  if (hosts.length > 100) return { error: 'at most 100 hosts' };
  const bad = hosts.find((h) => h.length > 253 || !HOST.test(h));
  return bad ? { error: `"${bad}" is not a host name (use names like registry.npmjs.org or *.example.com)` } : { hosts };
}

/** Whether `host` is on the list (exactly, or under a `*.` suffix). */
export function hostAllowed(host: string, allowed: string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return allowed.some((a) => (a.startsWith('*.') ? h.endsWith(a.slice(1)) && h.length > a.length - 1 : h === a));
}
