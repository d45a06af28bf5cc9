import { describe, expect, it } from "vitest";
import { RecordIoDecoder } from "../src/recordio.js";

const record = (json: string) => `${Buffer.byteLength(json)}\n${json}`;

describe("RecordIO", () => {
  it("cuts records that straddle chunks, multi-byte characters included", () => {
    const decoder = new RecordIoDecoder();
    const stream = Buffer.from(record('{"type":"SUBSCRIBED"}') + record('{"message":"héllo"}') + record("{}"));
    const seen: string[] = [];
    for (let i = 0; i < stream.length; i += 3) seen.push(...decoder.push(stream.subarray(i, i + 3)));
    expect(seen).toEqual(['{"type":"SUBSCRIBED"}', '{"message":"héllo"}', "{}"]);
  });

  it("refuses a stream that is not RecordIO", () => {
    expect(() => new RecordIoDecoder().push(Buffer.from("HTTP/1.1 200 OK\n"))).toThrow(/expected a record length/);
  });
});
