/** GitHub's timestamps: ISO 8601 without milliseconds. */
export const iso = (s: string | null | undefined) => (s ? s.replace(/\.\d{3}Z$/, 'Z') : null);
