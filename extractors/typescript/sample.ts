// Typed client for the kvstore HTTP API.
import type { Response } from "node-fetch";
import { retry } from "./retry";

/** A stored value with its version. */
export interface Versioned<T> {
  value: T;
  version: number;
  /** Whether a newer version exists. */
  stale(): boolean;
}

export type Key = string;

export enum Consistency {
  Strong,
  Eventual,
}

/**
 * Talks to one kvstore server.
 */
export class Client {
  private readonly base: string;

  constructor(base: string, private timeoutMs = 5000) {
    this.base = base.replace(/\/$/, "");
  }

  /** Fetches a key. */
  async get<T>(key: Key): Promise<Versioned<T> | undefined> {
    const res = await retry(() => this.request("GET", key));
    return res.ok ? parse<T>(res) : undefined;
  }

  protected request(method: string, key: Key): Promise<Response> {
    return fetch(`${this.base}/${encodeURIComponent(key)}`, { method });
  }
}

export function parse<T>(res: Response): Versioned<T>;
export function parse<T>(res: Response): Versioned<T> {
  return JSON.parse(res.body) as Versioned<T>;
}

namespace Internal {
  export const DEFAULT_BASE = "http://localhost:8080";
}
