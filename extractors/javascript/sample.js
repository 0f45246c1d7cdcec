/**
 * HTTP handlers for the kvstore server.
 */
import { Store } from "./store.js";
import express from "express";
const log = require("./log");

const MAX_BODY = 1024 * 1024;

/**
 * Wraps a store with request handlers.
 */
export class Handlers extends BaseHandlers {
  #store;
  static count = 0;

  constructor(store) {
    super();
    this.#store = store;
  }

  // Reads one key; 404 when it is missing.
  async get(req, res) {
    const value = await this.#store.get(req.params.key);
    if (value === undefined) return res.status(404).end();
    res.send(value);
  }

  #validate(body) {
    return body.length <= MAX_BODY;
  }
}

/** Builds the express app. */
export function createApp(store) {
  const app = express();
  const handlers = new Handlers(store);
  app.get("/:key", (req, res) => handlers.get(req, res));
  return app;
}

const formatError = (err) => `error: ${err.message}`;

function helper() {
  function inner() {
    return log.debug("inner");
  }
  return inner();
}

export { formatError };
