/**
 * Mesos's RecordIO framing of the scheduler event stream: each record is its length in bytes as
 * decimal digits, a newline, then that many bytes of JSON. Records do not line up with chunks.
 */
export class RecordIoDecoder {
  private buffered: Buffer = Buffer.alloc(0);

  /** The complete records the chunk finishes, as text; a partial one waits for the next chunk. */
  push(chunk: Buffer): string[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const records: string[] = [];
    for (;;) {
      const newline = this.buffered.indexOf(0x0a);
      if (newline < 0) {
        if (this.buffered.length > 20) throw new Error("RecordIO: a record length longer than 20 digits");
        return records;
      }
      const header = this.buffered.subarray(0, newline).toString("latin1").trim();
      if (!/^\d+$/.test(header)) throw new Error(`RecordIO: expected a record length, got ${JSON.stringify(header.slice(0, 40))}`);
      const length = Number(header);
      const end = newline + 1 + length;
      if (this.buffered.length < end) return records;
      records.push(this.buffered.subarray(newline + 1, end).toString("utf8"));
      this.buffered = this.buffered.subarray(end);
    }
  }
}
