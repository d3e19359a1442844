/**
 * Process-level guards for the long-running commands (`gitoku serve`, `gitoku runner`).
 *
 * A rejected promise nobody handled is a bug, but in a server it is one request's or one job's bug:
 * log it loudly (with its stack, so it gets fixed) and keep serving, instead of Node's default of
 * exiting and taking every other request and job down with it. An uncaught exception stays fatal:
 * it was thrown synchronously out of the event loop and the process state can no longer be trusted.
 */
let installed = false;

export function installProcessGuards(label: string, log: (line: string) => void = (l) => console.error(l)): void {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason) => {
    const detail = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
    log(`[${label}] BUG: unhandled promise rejection (logged; the process keeps running): ${detail}`);
  });
}
