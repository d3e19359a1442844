/** A runner that has not been seen for this long is shown offline (and its snapshots are not booted from). */
export const RUNNER_ONLINE_MS = 60_000;
