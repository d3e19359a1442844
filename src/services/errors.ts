/** Errors services raise; the web layer maps them to HTTP statuses, the CLI to messages and exit codes. */
export class ServiceError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 422,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const notFound = (what = 'Not Found') => new ServiceError(404, what);
export const forbidden = (what = 'Forbidden') => new ServiceError(403, what);
export const invalid = (message: string, field?: string) => new ServiceError(422, message, field);
export const conflict = (message: string) => new ServiceError(409, message);
