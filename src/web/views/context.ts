/** What every page knows about the request; routes build it, views only read it. */
export interface ViewUser {
  username: string;
  fullName: string;
  isAdmin: boolean;
  /** The uploaded avatar's path, or null for the generated initials. */
  avatarUrl?: string | null;
  /** Unread notifications (the top bar's bell). */
  unread?: number;
}

export interface Flash {
  kind: 'success' | 'error' | 'info';
  message: string;
}

export interface PageContext {
  user: ViewUser | null;
  csrfToken: string;
  flash: Flash | null;
  /** Path and query of the current request (for "sign in and come back" links). */
  path: string;
  signupEnabled: boolean;
  baseUrl: string;
  /** Appended to static asset URLs so a new release is fetched despite long cache lifetimes. */
  assetVersion: string;
}

/** A form's error from a service (ServiceError 422) and the field it concerns. */
export interface FormError {
  message: string;
  field?: string;
}
