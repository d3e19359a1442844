import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * A name for one instance of `role` in this process — `role@host/pid-xxxxxx` — used as a lease owner
 * and an embedded runner's name: an operator (and the admin job list) can tell which process holds a
 * lease; the random suffix keeps two instances in one process, or a restarted pid, apart.
 */
export function instanceName(role: string): string {
  return `${role}@${hostname()}/${process.pid}-${randomBytes(3).toString('hex')}`;
}
