import type { ContainerRecord } from "./container-record.js";

/**
 * The engine's inspect documents of the containers read most recently, a bounded number of them:
 * `docker inspect` right after a create, a start or any change is answered from here without a
 * call, while a cluster of thirty thousand containers does not hold thirty thousand documents.
 * A document belongs to one version of a record: once the record changes, the entry is stale.
 */
export class InspectCache {
  /** By container ID, least recently used first. */
  private readonly documents = new Map<string, { readonly record: ContainerRecord; readonly document: string }>();

  constructor(private readonly limit: number) {}

  put(record: ContainerRecord, document: string): void {
    this.documents.delete(record.id);
    this.documents.set(record.id, { record, document });
    if (this.documents.size > this.limit) this.documents.delete(this.documents.keys().next().value!);
  }

  /** The document of this version of the record, if it is still here. */
  get(record: ContainerRecord): string | undefined {
    const entry = this.documents.get(record.id);
    if (entry?.record !== record) return undefined;
    this.documents.delete(record.id);
    this.documents.set(record.id, entry);
    return entry.document;
  }

  delete(id: string): void {
    this.documents.delete(id);
  }
}
