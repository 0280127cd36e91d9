import type { SessionData } from 'express-session';
import { ConnectSessionKnexStore } from 'connect-session-knex';
import type { Knex } from 'knex';

export interface SessionCacheOptions {
  /**
   * How long a session read from the database is served from memory. A session ended by another
   * web process (logout there) is noticed here within this time; one ended in this process is
   * dropped from the cache at once. 0 reads the database on every request.
   */
  readMs: number;
  /**
   * express-session "touches" the stored session on every request to push its idle expiry
   * forward: one UPDATE per page. Touches closer together than this are kept in memory only, so
   * the stored expiry may lag the real one by this much. 0 writes every touch.
   */
  touchIntervalMs: number;
}

/** Production values: bursts (a page, its live filter, a refresh) cost one read and no write. */
export const DEFAULT_SESSION_CACHE: SessionCacheOptions = Object.freeze({ readMs: 2_000, touchIntervalMs: 60_000 });

interface Entry {
  /** The session as stored, so every read gets its own copy to mutate. */
  json: string;
  /** Idle expiry (epoch ms) as last seen or pushed forward by a touch. */
  expires: number;
  readAt: number;
  touchedAt: number;
}

/** How long a destroyed session id is remembered, so no late answer or save brings it back. */
const TOMBSTONE_MS = 60_000;

/** Above this many remembered sessions, stale entries are swept out. */
const MAX_ENTRIES = 10_000;

function expiresOf(session: SessionData): number {
  const expires = session.cookie?.expires;
  if (expires === undefined || expires === null) return Number.POSITIVE_INFINITY;
  return typeof expires === 'string' || typeof expires === 'number' ? new Date(expires).getTime() : expires.getTime();
}

/**
 * The SQL session store (connect-session-knex) with a small write-through memory cache in front:
 * the database stays the source of truth (idle expiry is still checked there on every real read),
 * but a burst of requests on one session costs one SELECT and no UPDATE.
 */
export class CachedKnexSessionStore extends ConnectSessionKnexStore {
  private readonly entries = new Map<string, Entry>();
  /**
   * Bumped by every set and destroy of a session id: a read that started before one of them must
   * not put what it read into the cache (a logout would come back; a fresh save would be undone).
   */
  private readonly versions = new Map<string, number>();
  /** Session ids destroyed here lately (logout, login's new id): never cached or saved again. */
  private readonly destroyed = new Map<string, number>();

  constructor(
    knex: Knex,
    tableName: string,
    private readonly cache: SessionCacheOptions,
    private readonly now: () => number = Date.now,
  ) {
    // The worker purges expired sessions; web processes do no background work.
    super({ knex, tableName, createTable: false, cleanupInterval: 0 });
  }

  override async get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): Promise<SessionData | null> {
    const now = this.now();
    const entry = this.entries.get(sid);
    if (entry && now - entry.readAt < this.cache.readMs && entry.expires > now) {
      const session = JSON.parse(entry.json) as SessionData;
      callback(null, session);
      return session;
    }
    const version = this.versions.get(sid) ?? 0;
    let session: SessionData | null;
    try {
      session = await super.get(sid, () => undefined);
    } catch (error) {
      callback(error);
      return null;
    }
    if (this.destroyed.has(sid)) session = null;
    else if ((this.versions.get(sid) ?? 0) !== version) {
      // Saved or destroyed meanwhile: what was read is older than what this process knows.
    } else if (session) {
      // Nothing says when the stored expiry was last pushed forward: the next touch writes it.
      this.remember(sid, session, now, entry?.touchedAt ?? Number.NEGATIVE_INFINITY);
    } else this.entries.delete(sid);
    callback(null, session);
    return session;
  }

  override async set(sid: string, session: SessionData, callback?: (err?: unknown) => void): Promise<void> {
    // The store's save is an upsert: a request still running on a logged-out session would
    // otherwise write it back.
    if (this.destroyed.has(sid)) {
      callback?.();
      return;
    }
    this.bump(sid);
    try {
      await super.set(sid, session);
    } catch (error) {
      this.entries.delete(sid);
      callback?.(error);
      return;
    }
    const now = this.now();
    this.remember(sid, session, now, now);
    callback?.();
  }

  override async touch(sid: string, session: SessionData, callback?: (err?: unknown) => void): Promise<void> {
    const now = this.now();
    const entry = this.entries.get(sid);
    if (entry && now - entry.touchedAt < this.cache.touchIntervalMs) {
      entry.expires = expiresOf(session);
      callback?.();
      return;
    }
    try {
      await super.touch(sid, session);
    } catch (error) {
      // A failed touch only shortens the idle expiry; the library would leave the rejection unhandled.
      callback?.(error);
      return;
    }
    if (entry) {
      entry.expires = expiresOf(session);
      entry.touchedAt = now;
    }
    callback?.();
  }

  override async destroy(sid: string, callback?: (err?: unknown) => void): Promise<number> {
    this.entries.delete(sid);
    this.bump(sid);
    this.destroyed.set(sid, this.now());
    if (this.destroyed.size > MAX_ENTRIES) this.forgetOldTombstones();
    try {
      const count = await super.destroy(sid);
      callback?.();
      return count;
    } catch (error) {
      callback?.(error);
      return 0;
    }
  }

  override async clear(callback?: (err?: unknown) => void): Promise<number> {
    this.entries.clear();
    try {
      const count = await super.clear();
      callback?.();
      return count;
    } catch (error) {
      // The library calls back and rejects too: answer once, through the callback.
      callback?.(error);
      return 0;
    }
  }

  private bump(sid: string): void {
    const next = (this.versions.get(sid) ?? 0) + 1;
    // Deleted and set again so the map's order is the order of the last bumps.
    this.versions.delete(sid);
    this.versions.set(sid, next);
    if (this.versions.size > MAX_ENTRIES) {
      // The oldest bumps are long finished with; a read racing one of them only skips caching.
      for (const key of this.versions.keys()) {
        if (this.versions.size <= MAX_ENTRIES * 0.9) break;
        this.versions.delete(key);
      }
    }
  }

  private forgetOldTombstones(): void {
    const now = this.now();
    for (const [sid, at] of this.destroyed) {
      if (now - at < TOMBSTONE_MS && this.destroyed.size <= MAX_ENTRIES) break;
      this.destroyed.delete(sid);
    }
  }

  private remember(sid: string, session: SessionData, readAt: number, touchedAt: number): void {
    if (this.cache.readMs <= 0 && this.cache.touchIntervalMs <= 0) return;
    this.entries.delete(sid);
    this.entries.set(sid, { json: JSON.stringify(session), expires: expiresOf(session), readAt, touchedAt });
    if (this.entries.size > MAX_ENTRIES) this.sweep(readAt);
  }

  /** Drops entries no longer useful; if that is not enough, the least recently stored ones. */
  private sweep(now: number): void {
    const keepFor = Math.max(this.cache.readMs, this.cache.touchIntervalMs);
    for (const [sid, entry] of this.entries) {
      if (now - entry.touchedAt >= keepFor && now - entry.readAt >= this.cache.readMs) this.entries.delete(sid);
    }
    for (const sid of this.entries.keys()) {
      if (this.entries.size <= MAX_ENTRIES * 0.9) break;
      this.entries.delete(sid);
    }
  }

  /** Number of sessions remembered in memory (for tests). */
  get cachedCount(): number {
    return this.entries.size;
  }
}
