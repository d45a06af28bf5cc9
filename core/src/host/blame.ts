import { blame } from "../errors/blame.js";

/**
 * Makes every method of a plugin instance blame the plugin for what it throws or rejects with, so
 * an error from a filter's `prepare`, a backend's `createContainer` or a discovery's `watch` (while
 * it is iterated) carries `filter/x`, `backend/y` or `discovery/z` wherever it surfaces. Methods
 * in `blamedByCaller` are left alone: their caller blames the plugin around a loop of calls. A
 * frozen instance cannot be rewired and is left as it is; the scheduler still blames its filters
 * and strategy by name.
 */
export function blameCallsOn(instance: object, label: string, blamedByCaller: readonly string[] = []): void {
  if (!Object.isExtensible(instance)) return;
  const target = instance as Record<string, unknown>;
  for (const key of methodNames(instance)) {
    if (blamedByCaller.includes(key)) continue;
    const method = target[key] as (...args: unknown[]) => unknown;
    target[key] = function blamed(this: unknown, ...args: unknown[]): unknown {
      let result: unknown;
      try {
        result = method.apply(this, args);
      } catch (err) {
        throw blame(label, key, err);
      }
      if (result instanceof Promise) return result.catch((err: unknown) => Promise.reject(blame(label, key, err)));
      if (isAsyncIterable(result)) return blamedIteration(result, label, key);
      return result;
    };
  }
}

/** Function-valued properties of the instance and its prototypes, getters and Object's own left out. */
function methodNames(instance: object): string[] {
  const names = new Set<string>();
  for (let proto: object | null = instance; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (key !== "constructor" && typeof descriptor.value === "function") names.add(key);
    }
  }
  return [...names];
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}

async function* blamedIteration(source: AsyncIterable<unknown>, label: string, operation: string): AsyncGenerator<unknown> {
  try {
    yield* source;
  } catch (err) {
    throw blame(label, operation, err);
  }
}
