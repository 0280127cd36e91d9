export const ROLES = ['admin', 'tech', 'billing'] as const;
export type Role = (typeof ROLES)[number];

export const SERVICE_TYPES = ['domain', 'hosting', 'vps', 'dedicated', 'email', 'cloud', 'database', 'cdn'] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

export const LOCALES = ['en', 'pt'] as const;
export type Locale = (typeof LOCALES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function isServiceType(value: unknown): value is ServiceType {
  return typeof value === 'string' && (SERVICE_TYPES as readonly string[]).includes(value);
}

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/** Canonical order for storing and showing a set of roles. */
export function sortRoles(roles: Iterable<Role>): Role[] {
  const set = new Set(roles);
  return ROLES.filter((role) => set.has(role));
}

export const roleColumn: Record<Role, 'admin_id' | 'tech_id' | 'billing_id'> = {
  admin: 'admin_id',
  tech: 'tech_id',
  billing: 'billing_id',
};
