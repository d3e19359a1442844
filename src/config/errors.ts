/** A bad setting (environment variable or flag); the message names every one. Kept apart from the
 * schema so that the CLI can recognise it without loading the configuration code. */
export class ConfigError extends Error {}
